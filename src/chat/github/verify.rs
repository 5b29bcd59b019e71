//! Is this delivery really from GitHub? `X-Hub-Signature-256` is an
//! HMAC-SHA256 of the raw body with the webhook's secret, compared in
//! constant time (the `hmac` crate's `verify_slice`).

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::chat::verify::{Refusal, Verify};

/// Webhook payloads can be large (a PR event carries the whole PR); GitHub
/// caps them at 25 MB, opsbot's comment events stay far below 1 MB.
pub const MAX_BODY: usize = 1024 * 1024;

/// Checks deliveries for one webhook secret.
pub struct Verifier {
    pub secret: SecretString,
}

impl Verify for Verifier {
    fn platform(&self) -> &'static str {
        "github"
    }

    fn max_body(&self) -> usize {
        MAX_BODY
    }

    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
        let Some(sig) = headers
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok())
        else {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "missing_signature",
                "missing X-Hub-Signature-256: deliveries must come from GitHub",
            ));
        };
        if !signature_ok(self.secret.expose_secret(), body, sig) {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "bad_signature",
                "bad signature: the body was not signed with this webhook's secret (check GITHUB_WEBHOOK_SECRET)",
            ));
        }
        Ok(())
    }
}

/// Constant-time check of `sha256=<hex>` over the raw body.
pub fn signature_ok(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}
