//! Decoders never panic on hostile input; the rate limiter allows exactly the
//! configured burst.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use sanctuary_consent::{
    ConsentToken, EnrollmentStatement, InMemoryRevocationStore, ManualClock, Purpose, RateLimit,
    RateLimiter, SignedStatement, VerifyContext, Wallet, verify,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn wallet_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        prop_assert!(Wallet::from_encrypted_bytes(&bytes, "pw").is_err());
    }

    #[test]
    fn token_verifier_never_panics(s in "[A-Za-z0-9_=-]{1,400}") {
        let subject = Wallet::create(T0).subject();
        let token = ConsentToken::from_base64(s).unwrap();
        let ctx = VerifyContext {
            subject: &subject,
            network: &network(),
            audience: &rp("bank.example"),
            purpose: Purpose::Verify,
            now: T0,
        };
        prop_assert!(verify(&token, &ctx, &InMemoryRevocationStore::new()).is_err());
    }

    #[test]
    fn statement_decoder_never_panics(s in "\\PC{0,300}") {
        let _ = SignedStatement::<EnrollmentStatement>::from_json(&s);
    }

    #[test]
    fn burst_is_exactly_the_configured_count(n in 1u32..60) {
        let clock = Arc::new(ManualClock::new(T0));
        let limiter = RateLimiter::new(
            RateLimit { per_minute: Some(n), per_hour: None },
            BTreeMap::new(),
            clock,
        );
        let a = rp("a.example");
        for _ in 0..n {
            prop_assert!(limiter.check(&a).is_ok());
        }
        prop_assert!(limiter.check(&a).is_err());
    }
}

#[test]
fn truncated_real_tokens_are_refused_cleanly() {
    let mut w = Wallet::create(T0);
    let token = issue(&mut w, "bank.example", &[Purpose::Verify], None);
    let s = token.as_base64();
    let subject = w.subject();
    let ctx = VerifyContext {
        subject: &subject,
        network: &network(),
        audience: &rp("bank.example"),
        purpose: Purpose::Verify,
        now: T0,
    };
    for cut in (1..s.len()).step_by(7) {
        let t = ConsentToken::from_base64(&s[..cut]).unwrap();
        assert!(verify(&t, &ctx, &InMemoryRevocationStore::new()).is_err());
    }
}
