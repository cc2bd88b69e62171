//! Consent tokens: Biscuit v3 tokens whose root key is the subject's wallet key.
//!
//! # Authority block (signed by the subject)
//!
//! ```text
//! token_id("<32 hex>");  network("<network>");  audience("<relying party>");
//! purpose("verify");  purpose("dedupe"); …        (one fact per granted purpose)
//! issued_at(<date>);  expires_at(<date>);  max_uses(<int>);   (max_uses optional)
//! check if time($t), expires_at($exp), $t <= $exp;
//! check if requested_network($n), network($n);
//! check if requested_audience($a), audience($a);
//! check if requested_purpose($p), purpose($p);
//! ```
//!
//! # Authorizer (the node)
//!
//! ```text
//! time(<now>); requested_network(..); requested_audience(..); requested_purpose(..);
//! allow if token_id($id);
//! ```
//!
//! Claims are read with queries, which only see the authority block and the
//! authorizer (Biscuit scoping), so facts added by later blocks cannot change them.
//!
//! # Attenuation
//!
//! Whoever holds a token (the relying party, or the subject before handing it over)
//! may append a block with more checks ([`ConsentToken::attenuate`]):
//! `check if requested_purpose($p), {purposes}.contains($p);` and/or
//! `check if time($t), $t <= {expiry};`. Checks only ever add conditions, and facts
//! in an appended block are invisible to the authority block's checks and to the
//! authorizer, so an attenuation can narrow but never widen. The use count is fixed
//! by the subject in the authority block.

use sanctuary_log::AuditTag;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration as StdDuration;

use biscuit_auth::builder::{Term, date, fact, int, string};
use biscuit_auth::error::{FailedCheck, Format, Logic, Token as BiscuitError};
use biscuit_auth::{
    AuthorizerBuilder, AuthorizerLimits, Biscuit, BiscuitBuilder, BlockBuilder, PublicKey,
    UnverifiedBiscuit,
};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, TokenError, WalletError};
use crate::ids::{NetworkId, Purpose, RelyingPartyId, SubjectPublicKey, TokenId};
use crate::receipt::ConsentReceipt;
use crate::stores::RevocationStore;
use crate::time_util::{to_system_time, truncate};
use crate::wallet::Wallet;

/// How far in the future a token's `issued_at` may be (clock skew between the
/// subject's device and the node).
pub const MAX_ISSUE_SKEW: Duration = Duration::minutes(5);

/// Longest encoded token accepted (bytes of base64), to bound parsing work.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

const AUTHORITY_CODE: &str = r#"
check if time($t), expires_at($exp), $t <= $exp;
check if requested_network($n), network($n);
check if requested_audience($a), audience($a);
check if requested_purpose($p), purpose($p);
"#;

/// What the subject consents to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The trust network.
    pub network: NetworkId,
    /// The relying party the token is for.
    pub audience: RelyingPartyId,
    /// Granted purposes (non-empty; [`Purpose::Identify`] is refused).
    pub purposes: Vec<Purpose>,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// Maximum number of uses; `None` = until expiry.
    pub max_uses: Option<u32>,
}

/// An encoded consent token (URL-safe base64 Biscuit). Treat as a bearer
/// credential: `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsentToken(String);

impl fmt::Debug for ConsentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConsentToken(<{} bytes>)", self.0.len())
    }
}

/// Result of [`Wallet::issue_token`].
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token to hand to the relying party.
    pub token: ConsentToken,
    /// Its unique id (for revocation).
    pub id: TokenId,
    /// The consent receipt (also stored in the wallet).
    pub receipt: ConsentReceipt,
}

/// Extra restrictions appended to a token (narrowing only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attenuation {
    /// Restrict to these purposes (intersected with those granted).
    pub purposes: Option<Vec<Purpose>>,
    /// Restrict to expire at this time (the earlier expiry wins).
    pub expires_at: Option<OffsetDateTime>,
}

fn malformed(reason: impl Into<String>) -> TokenError {
    TokenError::Malformed {
        reason: reason.into(),
    }
}

fn issue_err(e: BiscuitError) -> WalletError {
    WalletError::Issue {
        reason: e.to_string(),
    }
}

impl serde::Serialize for ConsentToken {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ConsentToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_base64(s).map_err(serde::de::Error::custom)
    }
}

impl ConsentToken {
    /// The audit tag the token's authority block claims, read *without*
    /// verifying the token. A node copies it into the log entry so that all
    /// nodes write identical entries whatever their verdicts; it is only a
    /// label (a forged token's tag points the entry at whoever made it).
    pub fn claimed_audit_tag(&self) -> Option<AuditTag> {
        let unverified = biscuit_auth::UnverifiedBiscuit::from_base64(&self.0).ok()?;
        let source = unverified.print_block_source(0).ok()?;
        let start = source.find("audit_tag(\"")? + "audit_tag(\"".len();
        let end = start + source[start..].find('"')?;
        decode_tag(&source[start..end])
    }

    /// Wraps an encoded token received on the wire (no verification yet).
    pub fn from_base64(s: impl Into<String>) -> Result<Self, TokenError> {
        let s = s.into();
        if s.is_empty() || s.len() > MAX_TOKEN_LEN {
            return Err(malformed("empty or oversized token"));
        }
        Ok(Self(s))
    }

    /// The encoded token.
    pub fn as_base64(&self) -> &str {
        &self.0
    }

    /// Biscuit revocation identifiers of every block (hex), for deployments that
    /// also want Biscuit-native revocation lists. Sanctuary itself revokes by
    /// [`TokenId`] through signed [`crate::Revocation`]s.
    pub fn biscuit_revocation_ids(&self) -> Result<Vec<String>, TokenError> {
        let u = UnverifiedBiscuit::from_base64(&self.0).map_err(map_parse_error)?;
        Ok(u.revocation_identifiers().iter().map(hex::encode).collect())
    }

    /// Appends an attenuation block. Needs no key: any holder can narrow a token.
    pub fn attenuate(&self, attenuation: &Attenuation) -> Result<ConsentToken, TokenError> {
        let unverified = UnverifiedBiscuit::from_base64(&self.0).map_err(map_parse_error)?;
        let mut block = BlockBuilder::new();
        let mut params = HashMap::new();
        let mut code = String::new();
        if let Some(purposes) = &attenuation.purposes {
            let set: BTreeSet<Term> = purposes.iter().map(|p| string(p.as_str())).collect();
            params.insert("allowed".to_owned(), Term::Set(set));
            code.push_str("check if requested_purpose($p), {allowed}.contains($p);\n");
        }
        if let Some(exp) = attenuation.expires_at {
            params.insert("exp".to_owned(), date(&to_system_time(exp)));
            code.push_str("check if time($t), $t <= {exp};\n");
        }
        if !code.is_empty() {
            block = block
                .code_with_params(&code, params, HashMap::new())
                .map_err(|e| malformed(e.to_string()))?;
        }
        let out = unverified
            .append(block)
            .map_err(|e| malformed(e.to_string()))?;
        Ok(Self(out.to_base64().map_err(|e| malformed(e.to_string()))?))
    }

    /// Appends a raw Datalog block (for relying parties with needs beyond
    /// [`Attenuation`], and for tests showing that blocks cannot widen a token).
    pub fn attenuate_with_datalog(&self, code: &str) -> Result<ConsentToken, TokenError> {
        let unverified = UnverifiedBiscuit::from_base64(&self.0).map_err(map_parse_error)?;
        let block = BlockBuilder::new()
            .code(code)
            .map_err(|e| malformed(e.to_string()))?;
        let out = unverified
            .append(block)
            .map_err(|e| malformed(e.to_string()))?;
        Ok(Self(out.to_base64().map_err(|e| malformed(e.to_string()))?))
    }
}

impl Wallet {
    /// Issues a consent token and records its receipt in the wallet (save the
    /// wallet afterwards).
    pub fn issue_token(
        &mut self,
        request: &TokenRequest,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, Error> {
        if request.purposes.is_empty() {
            return Err(malformed("a token needs at least one purpose").into());
        }
        if request.purposes.contains(&Purpose::Identify) {
            return Err(crate::policy::PolicyViolation::new(
                crate::policy::Rule::NoOpenIdentification,
                "a wallet never consents to open 1:N identification",
            )
            .into());
        }
        let now = truncate(now);
        let expires_at = truncate(request.expires_at);
        if expires_at <= now {
            return Err(malformed("expiry must be in the future").into());
        }
        let id = TokenId::random();
        let mut b = BiscuitBuilder::new()
            .fact(fact("token_id", &[string(&id.to_hex())]))
            .and_then(|b| b.fact(fact("network", &[string(request.network.as_str())])))
            .and_then(|b| b.fact(fact("audience", &[string(request.audience.as_str())])))
            .and_then(|b| b.fact(fact("issued_at", &[date(&to_system_time(now))])))
            .and_then(|b| b.fact(fact("expires_at", &[date(&to_system_time(expires_at))])))
            .map_err(issue_err)?;
        let purposes: BTreeSet<Purpose> = request.purposes.iter().copied().collect();
        for p in &purposes {
            b = b
                .fact(fact("purpose", &[string(p.as_str())]))
                .map_err(issue_err)?;
        }
        // A blinded audit tag for the transparency log: the node copies it into
        // the entry of each use, so the subject finds these uses with their
        // audit key while nobody else can tell whose they are. Uses of one
        // token share the tag (they are linkable to each other, as the token
        // itself already makes them for its relying party).
        let tag = self.audit_key().new_tag(&mut rand::rng());
        b = b
            .fact(fact("audit_tag", &[string(&encode_tag(&tag))]))
            .map_err(issue_err)?;
        if let Some(n) = request.max_uses {
            if n == 0 {
                return Err(malformed("max_uses must be at least 1").into());
            }
            b = b
                .fact(fact("max_uses", &[int(i64::from(n))]))
                .map_err(issue_err)?;
        }
        b = b.code(AUTHORITY_CODE).map_err(issue_err)?;
        let kp = self.biscuit_keypair()?;
        let biscuit = b.build(&kp).map_err(issue_err)?;
        let token = ConsentToken(biscuit.to_base64().map_err(issue_err)?);
        let receipt = ConsentReceipt::new(
            id,
            self.subject(),
            request.network.clone(),
            request.audience.clone(),
            purposes.into_iter().collect(),
            now,
            expires_at,
            request.max_uses,
        );
        self.push_receipt(receipt.clone());
        Ok(IssuedToken { token, id, receipt })
    }
}

/// What the node expects of a token for one request.
#[derive(Debug, Clone, Copy)]
pub struct VerifyContext<'a> {
    /// The key the enrollment is bound to (from the enrollment record or the
    /// request); the token must be signed by it.
    pub subject: &'a SubjectPublicKey,
    /// This node's network.
    pub network: &'a NetworkId,
    /// The relying party presenting the token.
    pub audience: &'a RelyingPartyId,
    /// The purpose the request needs.
    pub purpose: Purpose,
    /// Current time.
    pub now: OffsetDateTime,
}

/// A token whose signature, claims, expiry, audience, purpose, attenuation and
/// revocation status were checked. Built only by [`verify`] (and, for signed
/// statements, inside the gate). Not yet checked: policy and use count (see
/// [`crate::ConsentGate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedConsent {
    pub(crate) subject: SubjectPublicKey,
    pub(crate) token_id: Option<TokenId>,
    pub(crate) network: NetworkId,
    pub(crate) audience: RelyingPartyId,
    pub(crate) granted: Vec<Purpose>,
    pub(crate) purpose: Purpose,
    pub(crate) issued_at: OffsetDateTime,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) max_uses: Option<u32>,
    pub(crate) audit_tag: Option<AuditTag>,
}

/// `nonce_hex:tag_hex`, the token's `audit_tag` claim.
fn encode_tag(tag: &AuditTag) -> String {
    format!("{}:{}", hex::encode(tag.nonce), hex::encode(tag.tag))
}

fn decode_tag(s: &str) -> Option<AuditTag> {
    let (n, t) = s.split_once(':')?;
    Some(AuditTag {
        nonce: hex::decode(n).ok()?.try_into().ok()?,
        tag: hex::decode(t).ok()?.try_into().ok()?,
    })
}

impl VerifiedConsent {
    /// The blinded audit tag the subject put in the token, copied into the
    /// transparency-log entry of each use.
    pub fn audit_tag(&self) -> Option<AuditTag> {
        self.audit_tag
    }
    /// The subject who consented.
    pub fn subject(&self) -> &SubjectPublicKey {
        &self.subject
    }
    /// The token id (`None` for consent carried by a signed statement).
    pub fn token_id(&self) -> Option<TokenId> {
        self.token_id
    }
    /// Network.
    pub fn network(&self) -> &NetworkId {
        &self.network
    }
    /// The relying party the consent is for.
    pub fn audience(&self) -> &RelyingPartyId {
        &self.audience
    }
    /// Purposes granted in the authority block.
    pub fn granted_purposes(&self) -> &[Purpose] {
        &self.granted
    }
    /// The purpose this verification was made for.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }
    /// Issue time.
    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }
    /// Expiry set by the subject (attenuations may have shortened it; they were
    /// enforced at verification).
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }
    /// Use limit.
    pub fn max_uses(&self) -> Option<u32> {
        self.max_uses
    }
}

fn map_parse_error(e: BiscuitError) -> TokenError {
    match e {
        BiscuitError::Format(Format::Signature(_))
        | BiscuitError::Format(Format::SealedSignature)
        | BiscuitError::Format(Format::UnknownPublicKey)
        | BiscuitError::Format(Format::InvalidKey(_))
        | BiscuitError::Format(Format::InvalidSignatureSize(_))
        | BiscuitError::Format(Format::SignatureDeserializationError(_))
        | BiscuitError::Format(Format::BlockSignatureDeserializationError(_)) => TokenError::Forged,
        other => malformed(other.to_string()),
    }
}

fn classify_failed_check(rule: &str) -> TokenError {
    if rule.contains("time(") {
        TokenError::Expired
    } else if rule.contains("requested_purpose") {
        TokenError::PurposeMismatch {
            requested: String::new(),
        }
    } else if rule.contains("requested_audience") {
        TokenError::AudienceMismatch {
            expected: String::new(),
        }
    } else if rule.contains("requested_network") {
        TokenError::NetworkMismatch
    } else {
        TokenError::AttenuationCheckFailed {
            rule: rule.to_owned(),
        }
    }
}

fn map_authorize_error(e: BiscuitError, ctx: &VerifyContext<'_>) -> TokenError {
    let checks = match &e {
        BiscuitError::FailedLogic(Logic::Unauthorized { checks, .. })
        | BiscuitError::FailedLogic(Logic::NoMatchingPolicy { checks }) => checks,
        _ => return malformed(e.to_string()),
    };
    let Some(first) = checks.first() else {
        return malformed(e.to_string());
    };
    let rule = match first {
        FailedCheck::Block(b) => &b.rule,
        FailedCheck::Authorizer(a) => &a.rule,
    };
    match classify_failed_check(rule) {
        TokenError::PurposeMismatch { .. } => TokenError::PurposeMismatch {
            requested: ctx.purpose.to_string(),
        },
        TokenError::AudienceMismatch { .. } => TokenError::AudienceMismatch {
            expected: ctx.audience.to_string(),
        },
        other => other,
    }
}

fn limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 1000,
        max_iterations: 100,
        // Generous: a loaded 2-core machine must not refuse valid tokens on time.
        max_time: StdDuration::from_millis(200),
    }
}

/// Verifies a consent token for one request. Checks, in order: signature against
/// the subject key (forged), claims (malformed), network, revocation, expiry,
/// not-yet-valid, audience, purpose, then every attenuation check.
pub fn verify(
    token: &ConsentToken,
    ctx: &VerifyContext<'_>,
    revocations: &dyn RevocationStore,
) -> Result<VerifiedConsent, TokenError> {
    let root = PublicKey::from_bytes(
        &ctx.subject.to_bytes(),
        biscuit_auth::builder::Algorithm::Ed25519,
    )
    .map_err(|_| TokenError::Forged)?;
    let biscuit = Biscuit::from_base64(&token.0, root).map_err(map_parse_error)?;

    let mut authorizer = AuthorizerBuilder::new()
        .set_limits(limits())
        .fact(fact("time", &[date(&to_system_time(ctx.now))]))
        .and_then(|a| a.fact(fact("requested_network", &[string(ctx.network.as_str())])))
        .and_then(|a| a.fact(fact("requested_audience", &[string(ctx.audience.as_str())])))
        .and_then(|a| a.fact(fact("requested_purpose", &[string(ctx.purpose.as_str())])))
        .and_then(|a| a.code("allow if token_id($id);"))
        .and_then(|a| a.build(&biscuit))
        .map_err(|e| malformed(e.to_string()))?;

    // Claims (authority block only).
    let q = |a: &mut biscuit_auth::Authorizer, rule: &str| -> Result<Vec<Term>, TokenError> {
        let rows: Vec<biscuit_auth::builder::Fact> =
            a.query(rule).map_err(|e| malformed(e.to_string()))?;
        rows.into_iter()
            .map(|f| {
                let mut terms = f.predicate.terms;
                if terms.len() == 1 {
                    Ok(terms.remove(0))
                } else {
                    Err(malformed("unexpected query result arity"))
                }
            })
            .collect()
    };
    let one = |v: Vec<Term>, what: &str| -> Result<Term, TokenError> {
        let mut v = v;
        if v.len() == 1 {
            Ok(v.remove(0))
        } else {
            Err(malformed(format!("expected exactly one {what} claim")))
        }
    };
    let as_str = |t: Term, what: &str| match t {
        Term::Str(s) => Ok(s),
        _ => Err(malformed(format!("{what} is not a string"))),
    };
    let as_date = |t: Term, what: &str| match t {
        Term::Date(d) => Ok(crate::time_util::from_unix(d)),
        _ => Err(malformed(format!("{what} is not a date"))),
    };

    let token_id: TokenId = as_str(
        one(q(&mut authorizer, "d($x) <- token_id($x)")?, "token_id")?,
        "token_id",
    )?
    .parse()
    .map_err(|_| malformed("token_id is not 32 hex digits"))?;
    let network = NetworkId::new(as_str(
        one(q(&mut authorizer, "d($x) <- network($x)")?, "network")?,
        "network",
    )?)
    .map_err(|e| malformed(e.to_string()))?;
    let audience = RelyingPartyId::new(as_str(
        one(q(&mut authorizer, "d($x) <- audience($x)")?, "audience")?,
        "audience",
    )?)
    .map_err(|e| malformed(e.to_string()))?;
    let issued_at = as_date(
        one(q(&mut authorizer, "d($x) <- issued_at($x)")?, "issued_at")?,
        "issued_at",
    )?;
    let expires_at = as_date(
        one(q(&mut authorizer, "d($x) <- expires_at($x)")?, "expires_at")?,
        "expires_at",
    )?;
    let mut granted = Vec::new();
    for t in q(&mut authorizer, "d($x) <- purpose($x)")? {
        let s = as_str(t, "purpose")?;
        granted.push(s.parse::<Purpose>().map_err(|e| malformed(e.to_string()))?);
    }
    if granted.is_empty() {
        return Err(malformed("no purpose claim"));
    }
    let max_uses = match q(&mut authorizer, "d($x) <- max_uses($x)")?.as_slice() {
        [] => None,
        [Term::Integer(n)] => Some(
            u32::try_from(*n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| malformed("max_uses out of range"))?,
        ),
        _ => return Err(malformed("bad max_uses claim")),
    };

    let audit_tag = match q(&mut authorizer, "d($x) <- audit_tag($x)")?.as_slice() {
        [] => None,
        [Term::Str(s)] => Some(decode_tag(s).ok_or_else(|| malformed("bad audit_tag claim"))?),
        _ => return Err(malformed("bad audit_tag claim")),
    };

    // Explicit checks, for precise errors.
    if &network != ctx.network {
        return Err(TokenError::NetworkMismatch);
    }
    if revocations.is_revoked(ctx.subject, &token_id, issued_at) {
        return Err(TokenError::Revoked);
    }
    if ctx.now > expires_at {
        return Err(TokenError::Expired);
    }
    if issued_at > ctx.now + MAX_ISSUE_SKEW {
        return Err(TokenError::NotYetValid);
    }
    if &audience != ctx.audience {
        return Err(TokenError::AudienceMismatch {
            expected: ctx.audience.to_string(),
        });
    }
    if !granted.contains(&ctx.purpose) || ctx.purpose == Purpose::Identify {
        return Err(TokenError::PurposeMismatch {
            requested: ctx.purpose.to_string(),
        });
    }

    // Every check of every block (authority and attenuations).
    authorizer
        .authorize()
        .map_err(|e| map_authorize_error(e, ctx))?;

    Ok(VerifiedConsent {
        subject: *ctx.subject,
        token_id: Some(token_id),
        network,
        audience,
        granted,
        purpose: ctx.purpose,
        issued_at,
        expires_at,
        max_uses,
        audit_tag,
    })
}

/// Reads a token's claims without verifying anything (for a wallet or relying
/// party UI). Never use the result for an access decision.
pub fn inspect_unverified(token: &ConsentToken) -> Result<String, TokenError> {
    let u = UnverifiedBiscuit::from_base64(&token.0).map_err(map_parse_error)?;
    let mut out = String::new();
    for i in 0..u.block_count() {
        let src = u
            .print_block_source(i)
            .map_err(|e| malformed(e.to_string()))?;
        out.push_str(&format!("// block {i}\n{src}\n"));
    }
    Ok(out)
}
