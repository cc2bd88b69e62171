use crate::PartyId;

/// Errors from share handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// The two copies of one additive component disagree: one of the two
    /// parties holding it altered (or lost) its copy.
    #[error(
        "share component {component} at position {index} differs between {holder} and {copy_holder}: \
         a party altered its copy"
    )]
    Inconsistent {
        /// Which additive component (`x_j`) disagreed.
        component: PartyId,
        /// Position in the shared vector.
        index: usize,
        /// The party holding it as its own component.
        holder: PartyId,
        /// The party holding it as its next component.
        copy_holder: PartyId,
    },
    /// Share vectors of different lengths were combined.
    #[error("share vectors have different lengths: {left} vs {right}")]
    LengthMismatch {
        /// Length of the first operand.
        left: usize,
        /// Length of the second operand.
        right: usize,
    },
    /// Shares were given in the wrong order or twice for one party.
    #[error("expected the share of {expected} here, found the share of {found}")]
    WrongParty {
        /// The party whose share belongs at this position.
        expected: PartyId,
        /// The party whose share was given.
        found: PartyId,
    },
    /// A byte string does not hold a whole number of ring elements.
    #[error("{len} bytes is not a whole number of {elem_bytes}-byte ring elements")]
    BadEncoding {
        /// Length received.
        len: usize,
        /// Size of one element.
        elem_bytes: usize,
    },
}
