//! Exit codes: what a script or cron job can tell apart without parsing
//! output. Documented in `sanctuary --help` and the README.

use std::process::ExitCode;

use sanctuary_client::ClientError;

/// Success: the command did what was asked and the answer is positive.
pub(crate) const OK: u8 = 0;
/// A negative answer: no match, an enrollment refused as a duplicate, an
/// audit that found the log inconsistent, a festival check-in refused as a
/// repeat.
pub(crate) const NEGATIVE: u8 = 1;
/// Usage: bad arguments, unreadable or invalid local files (clap also
/// exits 2 on a usage error).
pub(crate) const USAGE: u8 = 2;
/// The network refused the operation (consent or ethics policy); the
/// refusal is in the transparency log.
pub(crate) const REFUSED: u8 = 3;
/// Not enough nodes could be reached (or they answered with a server error)
/// to do or to check what was asked.
pub(crate) const UNREACHABLE: u8 = 4;
/// Integrity failure: a node presented a key other than the pinned one, a
/// result share or log data did not verify, a presentation's signature is
/// forged.
pub(crate) const INTEGRITY: u8 = 5;

/// The text appended to `--help`.
pub(crate) const HELP: &str = "\
Exit codes:
  0  success (a positive answer)
  1  negative answer: no match, enrollment refused as already enrolled,
     log inconsistent, festival check-in already made
  2  usage error, or an unreadable or invalid local file
  3  refused by the network (consent or ethics policy; logged)
  4  not enough nodes reachable to do or to check what was asked
  5  integrity failure: a node's key, result or log data did not verify

Environment:
  SANCTUARY_WALLET_PASSPHRASE  the wallet passphrase (--passphrase-env names another)
  RUST_LOG                     log filter (e.g. info, sanctuary_node=debug)";

/// The exit code for a failed command: the first error in the chain that
/// says what kind of failure it is.
pub(crate) fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return client_code(e);
        }
        if cause.downcast_ref::<sanctuary_log::Error>().is_some() {
            return INTEGRITY;
        }
    }
    USAGE
}

fn client_code(e: &ClientError) -> u8 {
    match e {
        ClientError::Refused { .. } => REFUSED,
        ClientError::Unreachable { .. } => UNREACHABLE,
        // 4xx: the node did not accept the request as asked; 5xx: it could
        // not serve it (halted, peers down).
        ClientError::Status { status, .. } if *status >= 500 => UNREACHABLE,
        ClientError::Status { .. } => USAGE,
        ClientError::WrongNodeKey { .. }
        | ClientError::ResultNotAuthentic { .. }
        | ClientError::BadResponse { .. }
        | ClientError::Result(_)
        | ClientError::LogData { .. }
        | ClientError::Log(_) => INTEGRITY,
        _ => USAGE,
    }
}

/// `code` as an [`ExitCode`].
pub(crate) fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_proto::RefusalCode;
    use sanctuary_share::PartyId;

    #[test]
    fn each_failure_kind_has_its_code() {
        let refused = anyhow::Error::new(ClientError::Refused {
            party: PartyId::P1,
            code: RefusalCode::ConsentExpired,
            message: "expired".into(),
        })
        .context("verify");
        assert_eq!(code_for(&refused), REFUSED);
        let wrong_key = anyhow::Error::new(ClientError::WrongNodeKey {
            party: PartyId::P0,
            url: "https://x".into(),
            presented: "ab".into(),
        });
        assert_eq!(code_for(&wrong_key), INTEGRITY);
        let busy = anyhow::Error::new(ClientError::Status {
            party: PartyId::P0,
            url: "https://x".into(),
            status: 503,
            message: "halted".into(),
        });
        assert_eq!(code_for(&busy), UNREACHABLE);
        let plain = anyhow::anyhow!("cannot read wallet.json");
        assert_eq!(code_for(&plain), USAGE);
        let codes = [OK, NEGATIVE, USAGE, REFUSED, UNREACHABLE, INTEGRITY];
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "codes are distinct");
    }
}
