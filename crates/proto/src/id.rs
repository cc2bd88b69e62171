//! Enrollment ids: the one handle clients, nodes and storage share for an
//! enrollment (never the subject's key).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 128-bit enrollment id. Displays, parses and serializes as 32 lowercase
/// hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnrollmentId(pub [u8; 16]);

impl fmt::Display for EnrollmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EnrollmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnrollmentId({self})")
    }
}

/// Why a string is not an [`EnrollmentId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an enrollment id is 32 hex digits")]
pub struct ParseEnrollmentIdError(());

impl FromStr for EnrollmentId {
    type Err = ParseEnrollmentIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.as_bytes();
        if s.len() != 32 {
            return Err(ParseEnrollmentIdError(()));
        }
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (hex_val(pair[0]), hex_val(pair[1])) else {
                return Err(ParseEnrollmentIdError(()));
            };
            *o = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl Serialize for EnrollmentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EnrollmentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_hex_round_trip_and_serde() {
        let id = EnrollmentId(*b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\xfe\xff");
        let s = id.to_string();
        assert_eq!(s, "000102030405060708090a0b0c0dfeff");
        assert_eq!(s.parse::<EnrollmentId>(), Ok(id));
        assert_eq!(s.to_uppercase().parse::<EnrollmentId>(), Ok(id));
        assert!("00".parse::<EnrollmentId>().is_err());
        assert!(
            "zz0102030405060708090a0b0c0dfeff"
                .parse::<EnrollmentId>()
                .is_err()
        );
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(
            serde_json::from_str::<EnrollmentId>(&json).expect("deserialize"),
            id
        );
    }
}
