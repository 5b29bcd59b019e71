//! Is this request really from Discord, and recent? Ed25519 over
//! `timestamp + body` (serenity's interactions-endpoint verifier), plus a
//! bound on the timestamp's age so a captured request cannot be replayed
//! days later.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};

use crate::chat::verify::{Refusal, Verify};

/// Interactions are small JSON documents; anything bigger is not from Discord.
pub const MAX_BODY: usize = 64 * 1024;

/// Why a request was refused before anything looked at it. Each variant is
/// also a metrics label ([`SignatureError::reason`]).
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Signature-Ed25519 or X-Signature-Timestamp header: requests must come from Discord")]
    Missing,
    #[error("X-Signature-Timestamp must be Unix seconds")]
    BadTimestamp,
    #[error("stale request: X-Signature-Timestamp is {0} s away from now (at most {1} s allowed)")]
    Stale(u64, u64),
    #[error("bad signature: the body was not signed with this application's key (check DISCORD_PUBLIC_KEY)")]
    Forged,
}

impl SignatureError {
    /// The short label used in `opsbot_refused_requests_total{reason=…}`.
    pub fn reason(&self) -> &'static str {
        match self {
            SignatureError::Missing => "missing_signature",
            SignatureError::BadTimestamp | SignatureError::Stale(..) => "stale_timestamp",
            SignatureError::Forged => "bad_signature",
        }
    }
}

/// Checks signatures for one application key.
#[derive(Clone)]
pub struct Verifier {
    inner: serenity::interactions_endpoint::Verifier,
    max_skew: Duration,
}

impl Verifier {
    /// Parse the hex public key from the developer portal.
    pub fn new(public_key_hex: &str, max_skew: Duration) -> anyhow::Result<Verifier> {
        let bytes: [u8; 32] = hex::decode(public_key_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                anyhow::anyhow!("the Discord public key must be 64 hex digits (developer portal → General Information → Public Key)")
            })?;
        let inner = serenity::interactions_endpoint::Verifier::try_new(bytes).map_err(|e| {
            anyhow::anyhow!("the Discord public key is not a valid Ed25519 key: {e}")
        })?;
        Ok(Verifier { inner, max_skew })
    }

    /// Verify the headers and body of one request at time `now` (Unix seconds).
    pub fn check_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(sig), Some(ts)) = (
            header("x-signature-ed25519"),
            header("x-signature-timestamp"),
        ) else {
            return Err(SignatureError::Missing);
        };
        let at: i64 = ts.parse().map_err(|_| SignatureError::BadTimestamp)?;
        // abs_diff: a timestamp such as i64::MIN must be "stale", not an overflow.
        let skew = now.abs_diff(at);
        if skew > self.max_skew.as_secs() {
            return Err(SignatureError::Stale(skew, self.max_skew.as_secs()));
        }
        self.inner
            .verify(sig, ts, body)
            .map_err(|_| SignatureError::Forged)
    }
}

impl Verify for Verifier {
    fn platform(&self) -> &'static str {
        "discord"
    }

    fn max_body(&self) -> usize {
        MAX_BODY
    }

    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
        self.check_at(headers, body, chrono::Utc::now().timestamp())
            .map_err(|e| Refusal::new(StatusCode::UNAUTHORIZED, e.reason(), e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn extreme_timestamps_are_stale_not_an_overflow() {
        // RFC 8032 test vector 1: a valid Ed25519 public key.
        let v = Verifier::new(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            Duration::from_secs(300),
        )
        .unwrap();
        for ts in [i64::MIN, i64::MAX] {
            let mut h = HeaderMap::new();
            h.insert("x-signature-ed25519", HeaderValue::from_static("00"));
            h.insert(
                "x-signature-timestamp",
                HeaderValue::from_str(&ts.to_string()).unwrap(),
            );
            for now in [0, i64::MAX, i64::MIN] {
                let err = v.check_at(&h, b"{}", now);
                assert!(
                    matches!(err, Err(SignatureError::Stale(..))) || (ts == now),
                    "{ts} at {now}: {err:?}"
                );
            }
        }
    }
}
