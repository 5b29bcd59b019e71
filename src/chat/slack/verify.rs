//! Request verification: Slack's v0 signature, the 5-minute timestamp
//! window, and the body size cap, checked before anything else looks at a
//! request.
//!
//! The HMAC itself is slack-morphism's `SlackEventSignatureVerifier`: it is
//! already a dependency, computes HMAC-SHA256 over `v0:{ts}:{body}` and
//! compares with `subtle`'s constant-time equality, and rejects timestamps
//! more than 5 minutes from now. This module adds what it leaves to the
//! caller: header extraction, non-UTF-8 bodies, and a stable reason word per
//! refusal for the metric.

use axum::http::{HeaderMap, StatusCode};
use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};

use crate::chat::verify::{Refusal, Verify};

/// Why a request was refused before the core saw it. [`Rejection::reason`]
/// is the metric label; the status is what Slack gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the request has no X-Slack-Signature or X-Slack-Request-Timestamp header; Slack signs every request, so this did not come from Slack")]
    MissingSignature,
    #[error("X-Slack-Signature does not match the body; check that SLACK_SIGNING_SECRET is the app's signing secret")]
    BadSignature,
    #[error("X-Slack-Request-Timestamp is more than 5 minutes from now (or not a number); a replayed or delayed request is refused")]
    StaleTimestamp,
    #[error("the body is larger than the configured limit of Slack payloads")]
    BodyTooLarge,
    #[error("the signing secret is empty; set SLACK_SIGNING_SECRET to use the HTTP endpoints")]
    NoSecret,
    #[error("the payload is not a Slack payload of the expected shape")]
    Malformed,
}

impl Rejection {
    /// The label this refusal is counted under (`core.refused`).
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::BadSignature => "bad_signature",
            Rejection::StaleTimestamp => "stale_timestamp",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::NoSecret => "no_signing_secret",
            Rejection::Malformed => "malformed_payload",
        }
    }

    /// The HTTP status Slack (or whoever sent it) gets.
    pub fn status(self) -> StatusCode {
        match self {
            Rejection::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::Malformed => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// Checks `X-Slack-Signature` / `X-Slack-Request-Timestamp` against the raw
/// body. Nothing of the request may be trusted (or even parsed) before this
/// returns `Ok`.
pub fn verify_signature(
    verifier: &SlackEventSignatureVerifier,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Rejection> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
        header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
    ) else {
        return Err(Rejection::MissingSignature);
    };
    // Slack only sends UTF-8 (form-encoded or JSON); anything else cannot
    // carry a valid signature from Slack.
    let body = std::str::from_utf8(body).map_err(|_| Rejection::BadSignature)?;
    verifier
        .verify(signature, body, timestamp)
        .map_err(|err| match err {
            SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => {
                Rejection::StaleTimestamp
            }
            SlackEventSignatureVerifierError::CryptoInitError(_) => Rejection::NoSecret,
            SlackEventSignatureVerifierError::AbsentSignatureError(_)
            | SlackEventSignatureVerifierError::WrongSignatureError(_) => Rejection::BadSignature,
        })
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Refusal {
        Refusal::new(r.status(), r.reason(), r.to_string())
    }
}

/// Slack's side of the shared [`Verified`](crate::chat::verify::Verified) gate.
pub struct Verifier {
    pub signature: SlackEventSignatureVerifier,
    pub max_body: usize,
}

impl Verify for Verifier {
    fn platform(&self) -> &'static str {
        "slack"
    }

    fn max_body(&self) -> usize {
        self.max_body
    }

    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
        verify_signature(&self.signature, headers, body).map_err(Refusal::from)
    }
}
