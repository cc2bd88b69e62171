//! Shared fixtures for the consent tests.
#![allow(dead_code, unreachable_pub)] // each test binary uses a subset

use std::sync::Arc;

use sanctuary_consent::{
    ConsentGate, ConsentToken, InMemoryReplayGuard, InMemoryRevocationStore, ManualClock,
    NetworkId, Policy, Purpose, RelyingPartyId, TokenRequest, Wallet,
};
use time::{Duration, OffsetDateTime, macros::datetime};

pub const T0: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

pub const POLICY: &str = r#"
version = 1
network = "sanctuary-test"
operator = "Test node"

[purposes]
allowed = ["enroll", "verify", "dedupe", "festival_checkin"]

[retention]
days_after_last_use = 30

[rate_limits.default]
per_minute = 100
per_hour = 1000

[rate_limits.relying_parties."slow.example"]
per_minute = 3

[statements]
max_age_seconds = 600
"#;

pub fn network() -> NetworkId {
    NetworkId::new("sanctuary-test").unwrap()
}

pub fn rp(s: &str) -> RelyingPartyId {
    RelyingPartyId::new(s).unwrap()
}

pub fn policy() -> Policy {
    Policy::from_toml(POLICY).unwrap()
}

pub struct Fixture {
    pub wallet: Wallet,
    pub clock: Arc<ManualClock>,
    pub revocations: Arc<InMemoryRevocationStore>,
    pub replay: Arc<InMemoryReplayGuard>,
    pub gate: ConsentGate,
}

pub fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(T0));
    let revocations = Arc::new(InMemoryRevocationStore::new());
    let replay = Arc::new(InMemoryReplayGuard::new());
    let gate = ConsentGate::new(policy(), clock.clone(), revocations.clone(), replay.clone());
    Fixture {
        wallet: Wallet::create(T0 - Duration::days(1)),
        clock,
        revocations,
        replay,
        gate,
    }
}

pub fn request(audience: &str, purposes: &[Purpose], max_uses: Option<u32>) -> TokenRequest {
    TokenRequest {
        network: network(),
        audience: rp(audience),
        purposes: purposes.to_vec(),
        expires_at: T0 + Duration::hours(1),
        max_uses,
    }
}

pub fn issue(
    wallet: &mut Wallet,
    audience: &str,
    purposes: &[Purpose],
    max_uses: Option<u32>,
) -> ConsentToken {
    wallet
        .issue_token(&request(audience, purposes, max_uses), T0)
        .unwrap()
        .token
}
