use serde::{Deserialize, Serialize};

use crate::{
    Embedding, EmbeddingParams, IrisCode, IrisParams, QuantizedEmbedding, TemplateError,
    TemplateKind,
};

/// The JSON form of a template a client reads from disk:
///
/// ```json
/// {"kind": "embedding", "values": [0.1, -0.3, ...]}
/// {"kind": "iris", "code": "0110...", "mask": "1111..."}
/// ```
///
/// Iris bits are strings of `0`/`1` characters in `[row][col][bit]` order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum TemplateFile {
    /// A float embedding.
    Embedding {
        /// Raw values (normalised and quantised by the client).
        values: Vec<f32>,
    },
    /// An iris code.
    Iris {
        /// Code bits.
        code: String,
        /// Mask bits.
        mask: String,
    },
}

/// A validated template, ready to be shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// A quantised embedding.
    Embedding(QuantizedEmbedding),
    /// An iris code.
    Iris(IrisCode),
}

impl Template {
    /// The kind of this template.
    pub fn kind(&self) -> TemplateKind {
        match self {
            Template::Embedding(_) => TemplateKind::Embedding,
            Template::Iris(_) => TemplateKind::Iris,
        }
    }
}

fn bits(what: &'static str, s: &str) -> Result<Vec<u8>, TemplateError> {
    s.bytes()
        .enumerate()
        .map(|(index, c)| match c {
            b'0' => Ok(0),
            b'1' => Ok(1),
            other => Err(TemplateError::NotABit {
                what,
                index,
                value: other,
            }),
        })
        .collect()
}

impl TemplateFile {
    /// Parses JSON text.
    pub fn from_json(text: &str) -> Result<Self, TemplateError> {
        serde_json::from_str(text).map_err(|e| TemplateError::Malformed(e.to_string()))
    }

    /// The kind of this template.
    pub fn kind(&self) -> TemplateKind {
        match self {
            TemplateFile::Embedding { .. } => TemplateKind::Embedding,
            TemplateFile::Iris { .. } => TemplateKind::Iris,
        }
    }

    /// Validates and converts (quantising embeddings).
    pub fn validate(
        self,
        embedding: &EmbeddingParams,
        iris: &IrisParams,
    ) -> Result<Template, TemplateError> {
        match self {
            TemplateFile::Embedding { values } => Ok(Template::Embedding(
                Embedding::new(values).quantize(embedding)?,
            )),
            TemplateFile::Iris { code, mask } => Ok(Template::Iris(IrisCode::new(
                bits("code", &code)?,
                bits("mask", &mask)?,
                iris,
            )?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iris_bits_must_be_binary_characters() {
        let p = IrisParams {
            rows: 1,
            cols: 4,
            bits_per_cell: 1,
            rotations: 1,
            threshold: 0.3,
        };
        let f: TemplateFile =
            serde_json::from_str(r#"{"kind":"iris","code":"01x0","mask":"1111"}"#).expect("json");
        assert_eq!(
            f.validate(&EmbeddingParams::default(), &p),
            Err(TemplateError::NotABit {
                what: "code",
                index: 2,
                value: b'x'
            })
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r = serde_json::from_str::<TemplateFile>(r#"{"kind":"embedding","values":[1],"x":1}"#);
        assert!(r.is_err());
    }
}
