/// Why a template or a parameter set was refused. Each malformed input has its
/// own variant so that a client can tell the operator exactly what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The vector or code has the wrong number of elements.
    #[error("{what} has {found} elements, expected {expected}")]
    WrongDimension {
        /// What was measured ("embedding", "iris code", "iris mask").
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// An embedding value is NaN or infinite.
    #[error("embedding value at index {index} is not finite ({value})")]
    NonFinite {
        /// Position of the first bad value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// An embedding is all zeros (or too close to zero to normalise).
    #[error("embedding is all zeros: it cannot be normalised")]
    ZeroVector,
    /// An iris code or mask holds a value other than 0 or 1.
    #[error("iris {what} bit at index {index} is {value}, expected 0 or 1")]
    NotABit {
        /// "code" or "mask".
        what: &'static str,
        /// Position.
        index: usize,
        /// Value found.
        value: u8,
    },
    /// The iris mask has no valid bit.
    #[error("iris mask is empty: no bit of the code is usable")]
    EmptyMask,
    /// A threshold is outside its valid range.
    #[error("threshold {value} is outside {range}")]
    InvalidThreshold {
        /// Value given.
        value: f64,
        /// Valid range, in words.
        range: &'static str,
    },
    /// Parameters are inconsistent or too large for exact 32-bit arithmetic.
    #[error("invalid template parameters: {0}")]
    InvalidParams(&'static str),
    /// The template file could not be decoded.
    #[error("template file is malformed: {0}")]
    Malformed(String),
    /// The template is of another kind than the gallery.
    #[error("expected a {expected} template, got a {found} template")]
    WrongKind {
        /// Kind expected.
        expected: crate::TemplateKind,
        /// Kind found.
        found: crate::TemplateKind,
    },
}
