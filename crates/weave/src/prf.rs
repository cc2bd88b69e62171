//! The festival pseudonym: a 2-of-3 threshold PRF over Ristretto255.
//!
//! ```text
//! dealer:  k random; f(x) = k + a·x; node i holds k_i = f(i); K_i = k_i·G is public
//! P      = ristretto_from_uniform(SHA-512("sanctuary/weave/prf-input/v1" || lp(event) || lp(subject)))
//! node i:  E_i = k_i·P, with a DLEQ proof that log_G K_i = log_P E_i
//!          (Chaum-Pedersen, Fiat-Shamir: r random, A = r·G, B = r·P,
//!           c = SHA-512("sanctuary/weave/dleq/v1" || i || K_i || P || E_i || A || B) mod l, s = r − c·k_i)
//! client:  any two (i, j): E = λ_i·E_i + λ_j·E_j = k·P   (λ_i = j / (j − i))
//! pseudonym = hex(SHA-256("sanctuary/weave/pseudonym/v1" || lp(event) || E))
//! ```
//!
//! Why this shape: the pseudonym is a deterministic function of (event,
//! subject) that no single node can compute (it needs k), that every node can
//! check (the proofs, against the published `K_i`), and that looks random to
//! anyone without k, so pseudonyms of one person at two events are unrelated.
//! The nodes see (event, subject) in the clear when evaluating: the PRF is not
//! oblivious, and a node records the evaluation (see the crate docs).

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as G;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::WeaveError;

fn lp(h: &mut impl Digest, x: &[u8]) {
    h.update((x.len() as u64).to_be_bytes());
    h.update(x);
}

fn wide(h: Sha512) -> [u8; 64] {
    let mut out = [0u8; 64];
    out.copy_from_slice(&h.finalize());
    out
}

/// `P = H(event, subject)`, the PRF input point.
fn input_point(event: &str, subject: &str) -> RistrettoPoint {
    let mut h = Sha512::new();
    h.update(b"sanctuary/weave/prf-input/v1");
    lp(&mut h, event.as_bytes());
    lp(&mut h, subject.as_bytes());
    RistrettoPoint::from_uniform_bytes(&wide(h))
}

fn random_scalar() -> Scalar {
    let mut b = [0u8; 64];
    rand::Rng::fill(&mut rand::rng(), &mut b[..]);
    let s = Scalar::from_bytes_mod_order_wide(&b);
    b.zeroize();
    s
}

fn challenge(
    index: u16,
    k_i: &RistrettoPoint,
    p: &RistrettoPoint,
    e_i: &RistrettoPoint,
    a: &RistrettoPoint,
    b: &RistrettoPoint,
) -> Scalar {
    let mut h = Sha512::new();
    h.update(b"sanctuary/weave/dleq/v1");
    h.update(index.to_be_bytes());
    for pt in [k_i, p, e_i, a, b] {
        h.update(pt.compress().as_bytes());
    }
    Scalar::from_bytes_mod_order_wide(&wide(h))
}

/// One node's PRF key share `k_i` (secret; wiped on drop, never printed).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrfShare {
    index: u16,
    share: Scalar,
}

impl std::fmt::Debug for PrfShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrfShare")
            .field("index", &self.index)
            .field("share", &"<redacted>")
            .finish()
    }
}

/// File form of a [`PrfShare`] (`prf-key.json`).
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct PrfShareFile {
    version: u8,
    index: u16,
    share: String,
}

impl PrfShare {
    /// The node's share index (1..=3).
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Serialises for the node's key file.
    pub fn to_json(&self) -> zeroize::Zeroizing<String> {
        let f = PrfShareFile {
            version: 1,
            index: self.index,
            share: hex::encode(self.share.as_bytes()),
        };
        zeroize::Zeroizing::new(serde_json::to_string(&f).unwrap_or_default())
    }

    /// Parses the node's key file.
    pub fn from_json(s: &str) -> Result<Self, WeaveError> {
        let f: PrfShareFile =
            serde_json::from_str(s).map_err(|e| WeaveError::malformed("PRF key file", e))?;
        if f.version != 1 || !(1..=3).contains(&f.index) {
            return Err(WeaveError::malformed(
                "PRF key file",
                "version must be 1, index 1..=3",
            ));
        }
        let mut bytes: [u8; 32] = hex::decode(&f.share)
            .map_err(|e| WeaveError::malformed("PRF key file", e))?
            .try_into()
            .map_err(|_| WeaveError::malformed("PRF key file", "share is 32 bytes"))?;
        let share = Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes));
        bytes.zeroize();
        let share =
            share.ok_or_else(|| WeaveError::malformed("PRF key file", "share not canonical"))?;
        Ok(Self {
            index: f.index,
            share,
        })
    }

    /// Evaluates this node's share on `(event, subject)` with a proof.
    pub fn evaluate(&self, event: &str, subject: &str) -> Evaluation {
        let p = input_point(event, subject);
        let e_i = self.share * p;
        let k_i = self.share * G;
        let r = random_scalar();
        let (a, b) = (r * G, r * p);
        let c = challenge(self.index, &k_i, &p, &e_i, &a, &b);
        let s = r - c * self.share;
        Evaluation {
            index: self.index,
            point: hex::encode(e_i.compress().as_bytes()),
            c: hex::encode(c.as_bytes()),
            s: hex::encode(s.as_bytes()),
        }
    }
}

/// One node's answer: `E_i = k_i·P` and its DLEQ proof `(c, s)`, hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// The node's share index (1..=3).
    pub index: u16,
    /// `E_i`, compressed Ristretto.
    pub point: String,
    /// Proof challenge.
    pub c: String,
    /// Proof response.
    pub s: String,
}

fn point(what: &'static str, s: &str) -> Result<RistrettoPoint, WeaveError> {
    let b: [u8; 32] = hex::decode(s)
        .map_err(|e| WeaveError::malformed(what, e))?
        .try_into()
        .map_err(|_| WeaveError::malformed(what, "points are 32 bytes"))?;
    CompressedRistretto(b)
        .decompress()
        .ok_or_else(|| WeaveError::malformed(what, "not a Ristretto point"))
}

fn scalar(what: &'static str, s: &str) -> Result<Scalar, WeaveError> {
    let b: [u8; 32] = hex::decode(s)
        .map_err(|e| WeaveError::malformed(what, e))?
        .try_into()
        .map_err(|_| WeaveError::malformed(what, "scalars are 32 bytes"))?;
    Option::from(Scalar::from_canonical_bytes(b))
        .ok_or_else(|| WeaveError::malformed(what, "scalar not canonical"))
}

/// The public side of the PRF: `K_1, K_2, K_3` (hex, by index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrfPublic {
    /// `K_i = k_i·G` for i = 1, 2, 3.
    pub verification_shares: Vec<String>,
}

impl PrfPublic {
    fn share(&self, index: u16) -> Result<RistrettoPoint, WeaveError> {
        let s = self
            .verification_shares
            .get(usize::from(index).wrapping_sub(1))
            .ok_or(WeaveError::BadPrfProof { index })?;
        point("PRF verification share", s)
    }

    /// Checks one node's evaluation; returns `E_i`.
    fn verify(
        &self,
        event: &str,
        subject: &str,
        ev: &Evaluation,
    ) -> Result<RistrettoPoint, WeaveError> {
        let bad = WeaveError::BadPrfProof { index: ev.index };
        let k_i = self.share(ev.index)?;
        let p = input_point(event, subject);
        let e_i = point("PRF evaluation", &ev.point)
            .map_err(|_| WeaveError::BadPrfProof { index: ev.index })?;
        let (c, s) = match (scalar("proof", &ev.c), scalar("proof", &ev.s)) {
            (Ok(c), Ok(s)) => (c, s),
            _ => return Err(bad),
        };
        let a = s * G + c * k_i;
        let b = s * p + c * e_i;
        if challenge(ev.index, &k_i, &p, &e_i, &a, &b) == c {
            Ok(e_i)
        } else {
            Err(bad)
        }
    }

    /// Verifies evaluations from at least two distinct nodes and combines the
    /// first two into the pseudonym of `subject` at `event`.
    pub fn pseudonym(
        &self,
        event: &str,
        subject: &str,
        evaluations: &[Evaluation],
    ) -> Result<String, WeaveError> {
        let first = evaluations
            .first()
            .ok_or_else(|| WeaveError::PayloadRefused("no PRF evaluations".into()))?;
        let second = evaluations
            .iter()
            .find(|e| e.index != first.index)
            .ok_or_else(|| {
                WeaveError::PayloadRefused("PRF evaluations from two distinct nodes needed".into())
            })?;
        let e1 = self.verify(event, subject, first)?;
        let e2 = self.verify(event, subject, second)?;
        let (i, j) = (Scalar::from(first.index), Scalar::from(second.index));
        let l1 = j * (j - i).invert();
        let l2 = i * (i - j).invert();
        let e = l1 * e1 + l2 * e2;
        let mut h = Sha256::new();
        h.update(b"sanctuary/weave/pseudonym/v1");
        lp(&mut h, event.as_bytes());
        h.update(e.compress().as_bytes());
        Ok(hex::encode(h.finalize()))
    }
}

/// The dealer's step for the PRF key: three shares of a fresh random `k` on
/// a degree-1 polynomial, and their public verification shares. `k` itself
/// is dropped (wiped) before this returns.
pub(crate) fn deal() -> ([PrfShare; 3], PrfPublic) {
    let mut k = random_scalar();
    let mut a = random_scalar();
    let shares = [1u16, 2, 3].map(|i| PrfShare {
        index: i,
        share: k + a * Scalar::from(i),
    });
    k.zeroize();
    a.zeroize();
    let public = PrfPublic {
        verification_shares: shares
            .iter()
            .map(|s| hex::encode((s.share * G).compress().as_bytes()))
            .collect(),
    };
    (shares, public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_two_nodes_agree_and_events_differ() {
        let (shares, public) = deal();
        let ev = |e: &str, s: &str, i: usize, j: usize| {
            public
                .pseudonym(e, s, &[shares[i].evaluate(e, s), shares[j].evaluate(e, s)])
                .expect("valid")
        };
        let a01 = ev("harbour-2026", "alice", 0, 1);
        assert_eq!(a01, ev("harbour-2026", "alice", 1, 2));
        assert_eq!(a01, ev("harbour-2026", "alice", 2, 0));
        assert_ne!(a01, ev("weavers-2026", "alice", 0, 1));
        assert_ne!(a01, ev("harbour-2026", "bob", 0, 1));
    }

    #[test]
    fn forged_share_or_wrong_input_is_refused() {
        let (shares, public) = deal();
        let mut bad = shares[1].evaluate("e", "s");
        bad.point = shares[0].evaluate("e", "s").point;
        let r = public.pseudonym("e", "s", &[shares[0].evaluate("e", "s"), bad]);
        assert!(matches!(r, Err(WeaveError::BadPrfProof { index: 2 })));
        // An honest evaluation for another subject does not verify for this one.
        let r = public.pseudonym(
            "e",
            "s",
            &[shares[0].evaluate("e", "t"), shares[1].evaluate("e", "s")],
        );
        assert!(matches!(r, Err(WeaveError::BadPrfProof { index: 1 })));
        // One node alone is not enough.
        let one = shares[0].evaluate("e", "s");
        assert!(public.pseudonym("e", "s", &[one.clone(), one]).is_err());
    }

    #[test]
    fn share_file_round_trips() {
        let (shares, _) = deal();
        let back = PrfShare::from_json(&shares[2].to_json()).expect("parses");
        assert_eq!(back.index(), 3);
        assert_eq!(
            back.evaluate("e", "s").point,
            shares[2].evaluate("e", "s").point
        );
        assert!(!format!("{back:?}").contains(&hex::encode(back.share.as_bytes())));
    }
}
