//! The gate every webhook passes before anything reads it: the body under a
//! size cap, the platform's signature over the raw bytes, and on refusal the
//! `opsbot_refused_requests_total{platform,reason}` count and a plain answer.
//!
//! One axum extractor, [`Verified`], does this for Slack, GitHub and Discord
//! alike; each adapter's `verify` module only says how its signature is
//! checked ([`Verify`]). A handler that takes `Verified` cannot see an
//! unverified byte.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::model::Core;

/// Why a request was refused before the core saw it.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// What the sender gets (401, 413, 400…).
    pub status: StatusCode,
    /// The metric label (`bad_signature`, `stale_timestamp`…).
    pub reason: &'static str,
    /// What the sender reads, saying what to fix.
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            reason,
            message: message.into(),
        }
    }

    /// A body over the cap: refused before it is read to the end.
    pub fn too_large(limit: usize) -> Self {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {limit} bytes; the platform's own payloads stay below this"),
        )
    }
}

/// How one platform proves a request is its own.
pub trait Verify: Send + Sync + 'static {
    /// The metric's platform label: `slack`, `github`, `discord`.
    fn platform(&self) -> &'static str;
    /// Largest body read; bigger ones are refused with 413.
    fn max_body(&self) -> usize;
    /// Check the signature (and timestamp) over the raw body.
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal>;
}

/// An adapter's shared state: where its verifier and the core are.
pub trait Gate: Send + Sync + 'static {
    fn verifier(&self) -> &dyn Verify;
    fn core(&self) -> &dyn Core;
}

/// Count and answer a refusal (also for payloads that pass the signature
/// but do not parse).
pub fn refuse(core: &dyn Core, platform: &'static str, refusal: Refusal) -> Response {
    core.refused(platform, refusal.reason);
    tracing::warn!(
        platform,
        reason = refusal.reason,
        "request refused: {}",
        refusal.message
    );
    (refusal.status, refusal.message).into_response()
}

/// A request whose body is within the cap and signed by the platform.
#[derive(Debug)]
pub struct Verified {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl<S: Gate> FromRequest<Arc<S>> for Verified {
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &Arc<S>,
    ) -> Result<Self, Self::Rejection> {
        let gate = state.as_ref();
        let verifier = gate.verifier();
        let (parts, body) = req.into_parts();
        let limit = verifier.max_body();
        let refused = |r: Refusal| refuse(gate.core(), verifier.platform(), r);
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(refused(Refusal::too_large(limit)));
        }
        let body = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| refused(Refusal::too_large(limit)))?;
        verifier.check(&parts.headers, &body).map_err(&refused)?;
        Ok(Verified {
            headers: parts.headers,
            body,
        })
    }
}
