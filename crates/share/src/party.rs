use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the three parties (operator nodes) of the network.
///
/// This is the only representation of a party id: shares, sessions, configs and
/// logs all use it, so an out-of-range id cannot exist past parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum PartyId {
    /// Party 0.
    P0,
    /// Party 1.
    P1,
    /// Party 2.
    P2,
}

impl PartyId {
    /// All parties in protocol order.
    pub const ALL: [PartyId; 3] = [PartyId::P0, PartyId::P1, PartyId::P2];

    /// The party's index, 0..=2.
    pub const fn index(self) -> usize {
        match self {
            PartyId::P0 => 0,
            PartyId::P1 => 1,
            PartyId::P2 => 2,
        }
    }

    /// The next party (`i + 1 mod 3`).
    pub const fn next(self) -> PartyId {
        match self {
            PartyId::P0 => PartyId::P1,
            PartyId::P1 => PartyId::P2,
            PartyId::P2 => PartyId::P0,
        }
    }

    /// The previous party (`i - 1 mod 3`).
    pub const fn prev(self) -> PartyId {
        match self {
            PartyId::P0 => PartyId::P2,
            PartyId::P1 => PartyId::P0,
            PartyId::P2 => PartyId::P1,
        }
    }
}

impl TryFrom<u8> for PartyId {
    type Error = InvalidPartyId;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(PartyId::P0),
            1 => Ok(PartyId::P1),
            2 => Ok(PartyId::P2),
            other => Err(InvalidPartyId(other)),
        }
    }
}

impl From<PartyId> for u8 {
    fn from(p: PartyId) -> u8 {
        p.index() as u8
    }
}

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.index())
    }
}

/// A party id outside 0..=2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("party id {0} is out of range: a network has parties 0, 1 and 2")]
pub struct InvalidPartyId(pub u8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_and_prev_are_inverse() {
        for p in PartyId::ALL {
            assert_eq!(p.next().prev(), p);
            assert_ne!(p.next(), p);
            assert_eq!(p.next().next().next(), p);
        }
    }

    #[test]
    fn out_of_range_id_is_rejected() {
        assert_eq!(PartyId::try_from(3), Err(InvalidPartyId(3)));
        assert_eq!(PartyId::try_from(1), Ok(PartyId::P1));
    }
}
