//! Per-relying-party rate limiting (GCRA, i.e. a token bucket that allows a burst
//! of the configured count and then refills evenly), with an injectable clock.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::RelyingPartyId;
use crate::policy::{PolicyViolation, Rule};

/// Source of the current time (inject [`ManualClock`] in tests).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// Starts at `t`.
    pub fn new(t: OffsetDateTime) -> Self {
        Self(Mutex::new(t))
    }
    /// Sets the time.
    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }
    /// Moves the time forward.
    pub fn advance(&self, d: time::Duration) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *g += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

/// Requests allowed per relying party. A missing field means no limit for that
/// window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per minute (burst of this many, then evenly refilled).
    pub per_minute: Option<u32>,
    /// Requests per hour.
    pub per_hour: Option<u32>,
}

const MINUTE_NS: i128 = 60_000_000_000;
const HOUR_NS: i128 = 60 * MINUTE_NS;

/// GCRA state for one window: the theoretical arrival time, in ns since epoch.
#[derive(Debug, Clone, Copy, Default)]
struct Gcra {
    tat: i128,
}

impl Gcra {
    /// Returns the new TAT if a request at `now` conforms, or the wait in ns.
    fn try_at(&self, now: i128, count: u32, window: i128) -> Result<i128, i128> {
        let interval = window / i128::from(count.max(1));
        let tolerance = window - interval;
        let tat = self.tat.max(now);
        if tat - now > tolerance {
            Err(tat - now - tolerance)
        } else {
            Ok(tat + interval)
        }
    }
}

#[derive(Debug, Default)]
struct State {
    minute: Gcra,
    hour: Gcra,
}

/// Rate limiter keyed by relying party.
#[derive(Debug)]
pub struct RateLimiter<C: Clock = SystemClock> {
    default: RateLimit,
    overrides: BTreeMap<RelyingPartyId, RateLimit>,
    clock: C,
    state: Mutex<BTreeMap<RelyingPartyId, State>>,
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter with a default limit, per-party overrides, and a clock.
    pub fn new(
        default: RateLimit,
        overrides: BTreeMap<RelyingPartyId, RateLimit>,
        clock: C,
    ) -> Self {
        Self {
            default,
            overrides,
            clock,
            state: Mutex::new(BTreeMap::new()),
        }
    }

    /// The limit applying to `rp`.
    pub fn limit_for(&self, rp: &RelyingPartyId) -> RateLimit {
        self.overrides.get(rp).copied().unwrap_or(self.default)
    }

    /// Counts one request from `rp`, or refuses it naming [`Rule::RateLimit`].
    /// A refused request is not counted.
    pub fn check(&self, rp: &RelyingPartyId) -> Result<(), PolicyViolation> {
        let limit = self.limit_for(rp);
        let now = self.clock.now().unix_timestamp_nanos();
        let mut map = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = map.entry(rp.clone()).or_default();
        let minute = match limit.per_minute {
            Some(0) => return Err(refuse(rp, "per minute", 0, None)),
            Some(n) => Some(
                st.minute
                    .try_at(now, n, MINUTE_NS)
                    .map_err(|w| refuse(rp, "per minute", n, Some(w)))?,
            ),
            None => None,
        };
        let hour = match limit.per_hour {
            Some(0) => return Err(refuse(rp, "per hour", 0, None)),
            Some(n) => Some(
                st.hour
                    .try_at(now, n, HOUR_NS)
                    .map_err(|w| refuse(rp, "per hour", n, Some(w)))?,
            ),
            None => None,
        };
        if let Some(t) = minute {
            st.minute.tat = t;
        }
        if let Some(t) = hour {
            st.hour.tat = t;
        }
        Ok(())
    }
}

fn refuse(rp: &RelyingPartyId, window: &str, n: u32, wait_ns: Option<i128>) -> PolicyViolation {
    let retry = wait_ns
        .map(|w| format!("; retry in {} s", (w + 999_999_999) / 1_000_000_000))
        .unwrap_or_default();
    PolicyViolation::new(
        Rule::RateLimit,
        format!("relying party {rp} exceeded {n} requests {window}{retry}"),
    )
}
