//! Ethics policy: file parsing, structural rules, retention, rate limits.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use sanctuary_consent::{
    Disclosure, Error, ManualClock, Policy, PolicyFileError, Purpose, RateLimit, RateLimiter,
    Request, Rule,
};
use time::Duration;

#[test]
fn example_policy_parses_and_round_trips() {
    let p = policy();
    assert_eq!(p.network().as_str(), "sanctuary-test");
    assert_eq!(p.operator(), Some("Test node"));
    assert_eq!(p.retention(), Duration::days(30));
    assert_eq!(p.statement_max_age(), Duration::minutes(10));
    // Subject rights are always served.
    assert!(p.allowed_purposes().contains(&Purpose::Delete));
    assert!(p.allowed_purposes().contains(&Purpose::RevealOwnEnrollment));
    assert!(!p.allowed_purposes().contains(&Purpose::Identify));
    let again = Policy::from_toml(&p.to_toml()).unwrap();
    assert_eq!(again, p);
    assert_eq!(Policy::published_rules().len(), Rule::ALL.len());
}

#[test]
fn policy_example_in_docs_parses() {
    let text = r#"
version = 1
network = "sanctuary-demo"
operator = "Node A (Harbour Trust)"

[purposes]
allowed = ["enroll", "verify", "dedupe", "festival_checkin"]

[retention]
days_after_last_use = 365

[rate_limits.default]
per_minute = 60
per_hour = 1000

[rate_limits.relying_parties."festival.example"]
per_minute = 600
per_hour = 20000

[statements]
max_age_seconds = 600
"#;
    Policy::from_toml(text).unwrap();
}

#[test]
fn unknown_fields_are_rejected_with_a_clear_error() {
    let text = POLICY.replace("[retention]", "[retention]\nkeep_forever = true");
    let e = Policy::from_toml(&text).unwrap_err();
    assert!(matches!(e, PolicyFileError::Parse(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("keep_forever"), "{msg}");
    assert!(msg.contains("unknown field"), "{msg}");

    let text = format!("{POLICY}\n[backdoor]\nenabled = true\n");
    let msg = Policy::from_toml(&text).unwrap_err().to_string();
    assert!(msg.contains("backdoor"), "{msg}");
}

#[test]
fn unknown_purpose_and_identify_are_rejected() {
    let text = POLICY.replace(
        r#""festival_checkin"]"#,
        r#""festival_checkin", "marketing"]"#,
    );
    let msg = Policy::from_toml(&text).unwrap_err().to_string();
    assert!(msg.contains("marketing"), "{msg}");

    let text = POLICY.replace(
        r#""festival_checkin"]"#,
        r#""festival_checkin", "identify"]"#,
    );
    let e = Policy::from_toml(&text).unwrap_err();
    assert!(matches!(e, PolicyFileError::Invalid { .. }), "{e:?}");
    assert!(e.to_string().contains("no_open_identification"), "{e}");
}

#[test]
fn wrong_version_and_bad_values_are_rejected() {
    let text = POLICY.replace("version = 1", "version = 2");
    assert!(matches!(
        Policy::from_toml(&text),
        Err(PolicyFileError::UnsupportedVersion(2))
    ));
    let text = POLICY.replace("days_after_last_use = 30", "days_after_last_use = 0");
    assert!(matches!(
        Policy::from_toml(&text),
        Err(PolicyFileError::Invalid { .. })
    ));
    // BIPA 15(a): three years after the last interaction at most.
    let three_years = POLICY.replace("days_after_last_use = 30", "days_after_last_use = 1095");
    assert!(Policy::from_toml(&three_years).is_ok());
    for longer in [
        "days_after_last_use = 1096",
        "seconds_after_last_use = 94608001",
    ] {
        let text = POLICY.replace("days_after_last_use = 30", longer);
        assert!(
            matches!(
                Policy::from_toml(&text),
                Err(PolicyFileError::Invalid { .. })
            ),
            "{longer} accepted"
        );
    }
    let text = POLICY.replace("network = \"sanctuary-test\"\n", "");
    assert!(matches!(
        Policy::from_toml(&text),
        Err(PolicyFileError::Parse(_))
    ));
}

#[test]
fn identify_is_refused_naming_the_rule() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    // Even with a (perfectly valid) token in hand.
    let token = issue(&mut f.wallet, "police.example", &[Purpose::Verify], None);
    let req = Request::Identify {
        relying_party: rp("police.example"),
    };
    match f.gate.admit(&token, &subject, &req) {
        Err(Error::Policy(v)) => {
            assert_eq!(v.rule, Rule::NoOpenIdentification);
            assert!(v.to_string().contains("no_open_identification"), "{v}");
        }
        other => panic!("{other:?}"),
    }
    // And Policy::check refuses it directly, whatever the consent.
    let consent = sanctuary_consent::verify(
        &token,
        &sanctuary_consent::VerifyContext {
            subject: &subject,
            network: &network(),
            audience: &rp("police.example"),
            purpose: Purpose::Verify,
            now: T0,
        },
        f.revocations.as_ref(),
    )
    .unwrap();
    let v = policy().check(&req, &consent, T0).unwrap_err();
    assert_eq!(v.rule, Rule::NoOpenIdentification);
}

#[test]
fn dedupe_discloses_membership_only() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "site.example", &[Purpose::Dedupe], Some(1));
    let c = f
        .gate
        .admit(
            &token,
            &subject,
            &Request::Dedupe {
                site: rp("site.example"),
            },
        )
        .unwrap();
    assert_eq!(c.disclosure(), Disclosure::MembershipBit);
    assert_eq!(c.retain_until(), None);
}

#[test]
fn match_index_is_revealed_only_to_the_subject() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let me = subject.as_self_audience();
    // Token addressed to the subject itself: allowed.
    let own = issue(
        &mut f.wallet,
        me.as_str(),
        &[Purpose::RevealOwnEnrollment],
        None,
    );
    let c = f
        .gate
        .admit(
            &own,
            &subject,
            &Request::RevealMatchIndex {
                requester: me.clone(),
            },
        )
        .unwrap();
    assert_eq!(c.disclosure(), Disclosure::OwnEnrollmentToSubject);

    // A relying party holding a reveal token for itself: refused by the policy.
    let rp_token = issue(
        &mut f.wallet,
        "broker.example",
        &[Purpose::RevealOwnEnrollment],
        None,
    );
    match f.gate.admit(
        &rp_token,
        &subject,
        &Request::RevealMatchIndex {
            requester: rp("broker.example"),
        },
    ) {
        Err(Error::Policy(v)) => assert_eq!(v.rule, Rule::RevealOnlyToSubject),
        other => panic!("{other:?}"),
    }
}

#[test]
fn policy_check_refuses_audience_and_purpose_mismatch() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let consent = sanctuary_consent::verify(
        &token,
        &sanctuary_consent::VerifyContext {
            subject: &subject,
            network: &network(),
            audience: &rp("bank.example"),
            purpose: Purpose::Verify,
            now: T0,
        },
        f.revocations.as_ref(),
    )
    .unwrap();
    let p = policy();
    let ok = p
        .check(
            &Request::Verify {
                relying_party: rp("bank.example"),
            },
            &consent,
            T0,
        )
        .unwrap();
    assert_eq!(ok.disclosure, Disclosure::VerifyBit);
    let v = p
        .check(
            &Request::Verify {
                relying_party: rp("other.example"),
            },
            &consent,
            T0,
        )
        .unwrap_err();
    assert_eq!(v.rule, Rule::AudienceMismatch);
    let v = p
        .check(
            &Request::FestivalCheckin {
                festival: rp("bank.example"),
                event: "harbour-2026".into(),
            },
            &consent,
            T0,
        )
        .unwrap_err();
    assert_eq!(v.rule, Rule::ConsentPurposeMismatch);
    let v = p
        .check(
            &Request::Verify {
                relying_party: rp("bank.example"),
            },
            &consent,
            T0 + Duration::days(1),
        )
        .unwrap_err();
    assert_eq!(v.rule, Rule::ConsentExpired);
}

#[test]
fn retention_deadline_is_last_use_plus_days() {
    let p = policy();
    let last_use = T0;
    assert_eq!(p.retention_deadline(last_use), T0 + Duration::days(30));
    assert!(!p.retention_expired(last_use, T0 + Duration::days(29)));
    assert!(!p.retention_expired(last_use, T0 + Duration::days(30) - Duration::seconds(1)));
    assert!(p.retention_expired(last_use, T0 + Duration::days(30)));
    // A use renews it.
    let renewed = T0 + Duration::days(20);
    assert!(!p.retention_expired(renewed, T0 + Duration::days(45)));
}

#[test]
fn rate_limit_trips_at_the_configured_count() {
    let clock = Arc::new(ManualClock::new(T0));
    let limiter = policy().rate_limiter(clock.clone());
    let slow = rp("slow.example");
    for _ in 0..3 {
        limiter.check(&slow).unwrap();
    }
    let v = limiter.check(&slow).unwrap_err();
    assert_eq!(v.rule, Rule::RateLimit);
    assert!(v.detail.contains("slow.example"), "{}", v.detail);
    // Other parties are unaffected.
    limiter.check(&rp("fast.example")).unwrap();
    // One request's worth of time (20 s at 3/min) later, one more is allowed.
    clock.advance(Duration::seconds(20));
    limiter.check(&slow).unwrap();
    assert!(limiter.check(&slow).is_err());
    // After a full minute the burst is available again.
    clock.advance(Duration::minutes(1));
    for _ in 0..3 {
        limiter.check(&slow).unwrap();
    }
    assert!(limiter.check(&slow).is_err());
}

#[test]
fn hourly_limit_trips_independently() {
    let clock = Arc::new(ManualClock::new(T0));
    let limiter = RateLimiter::new(
        RateLimit {
            per_minute: None,
            per_hour: Some(5),
        },
        BTreeMap::new(),
        clock.clone(),
    );
    let a = rp("a.example");
    for _ in 0..5 {
        limiter.check(&a).unwrap();
        clock.advance(Duration::seconds(1));
    }
    let v = limiter.check(&a).unwrap_err();
    assert!(v.detail.contains("per hour"), "{}", v.detail);
    clock.advance(Duration::hours(1));
    limiter.check(&a).unwrap();
}

#[test]
fn gate_applies_rate_limit_before_token_checks() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "slow.example", &[Purpose::Verify], None);
    let req = Request::Verify {
        relying_party: rp("slow.example"),
    };
    for _ in 0..3 {
        f.gate.admit(&token, &subject, &req).unwrap();
    }
    match f.gate.admit(&token, &subject, &req) {
        Err(Error::Policy(v)) => assert_eq!(v.rule, Rule::RateLimit),
        other => panic!("{other:?}"),
    }
}

#[test]
fn published_policy_lists_rules_and_served_purposes() {
    let json = serde_json::to_value(policy().published()).unwrap();
    assert_eq!(json["network"], "sanctuary-test");
    assert_eq!(json["retention"]["days_after_last_use"], 30);
    let served: Vec<_> = json["served_purposes"].as_array().unwrap().clone();
    assert!(served.contains(&serde_json::json!("delete")));
    assert!(!served.contains(&serde_json::json!("identify")));
    let rules = json["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "no_open_identification"
        && r["description"].as_str().unwrap().contains("who is this")));
}

#[test]
fn retention_in_seconds_or_days_but_not_both() {
    let secs = POLICY.replace("days_after_last_use = 30", "seconds_after_last_use = 90");
    let p = Policy::from_toml(&secs).expect("seconds retention");
    assert_eq!(p.retention(), time::Duration::seconds(90));
    let t0 = time::OffsetDateTime::UNIX_EPOCH;
    assert!(!p.retention_expired(t0, t0 + time::Duration::seconds(89)));
    assert!(p.retention_expired(t0, t0 + time::Duration::seconds(90)));
    let both = POLICY.replace(
        "days_after_last_use = 30",
        "days_after_last_use = 30\nseconds_after_last_use = 90",
    );
    assert!(Policy::from_toml(&both).is_err());
    let neither = POLICY.replace("days_after_last_use = 30", "");
    assert!(Policy::from_toml(&neither).is_err());
    let zero = POLICY.replace("days_after_last_use = 30", "seconds_after_last_use = 0");
    assert!(Policy::from_toml(&zero).is_err());
}
