//! GitHub App authentication: the App's JWT (RS256, signed with the
//! private key from `github.private_key_file`, `iss` = the App id) is
//! exchanged for an installation access token per installation (the
//! delivery's `installation.id`, `POST /app/installations/{id}/access_tokens`).
//! Tokens are cached and fetched again shortly before they expire; a 401 on
//! a call forgets the cached token so the next call fetches a new one
//! (see [`super::api`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::retry::{Retry, RetryPolicy};

/// A cached token is replaced when it has less than this left.
const REFRESH_BEFORE: chrono::Duration = chrono::Duration::minutes(5);
/// GitHub accepts App JWTs valid for at most 10 minutes.
const JWT_LIFETIME: i64 = 9 * 60;
/// `iat` a minute in the past, as GitHub advises against clock drift.
const JWT_BACKDATE: i64 = 60;

/// Why no installation token could be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("github.private_key_file is not an RSA private key in PEM form ({0}); download a new key from the App's settings page (Private keys → Generate)")]
    Key(String),
    #[error("cannot sign the App's JWT: {0}")]
    Sign(String),
    #[error("GitHub refused the installation token for installation {installation} ({status}): check github.app_id, the private key, and that the App is installed there")]
    Refused { installation: u64, status: u16 },
    #[error("cannot reach GitHub for an installation token: {0}; check GITHUB_API_URL")]
    Transport(String),
    #[error("GitHub answered the installation token request in an unexpected shape: {0}")]
    Shape(String),
}

/// The App's identity and the tokens it holds.
pub struct AppAuth {
    app_id: u64,
    key: EncodingKey,
    api_url: String,
    http: reqwest::Client,
    retry: RetryPolicy,
    tokens: Mutex<HashMap<u64, Token>>,
}

/// An installation access token and when it stops working.
#[derive(Clone)]
pub struct Token {
    pub secret: SecretString,
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: String,
}

#[derive(Deserialize)]
struct Granted {
    token: String,
    expires_at: DateTime<Utc>,
}

impl AppAuth {
    /// From the App id and the PEM text of its private key.
    pub fn new(
        app_id: u64,
        pem: &SecretString,
        api_url: &str,
        connect_timeout: Duration,
        call_timeout: Duration,
    ) -> Result<AppAuth, AuthError> {
        let key = EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes())
            .map_err(|e| AuthError::Key(e.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(call_timeout)
            .user_agent("opsbot")
            .build()
            .map_err(|e| AuthError::Transport(e.to_string()))?;
        Ok(AppAuth {
            app_id,
            key,
            api_url: api_url.trim_end_matches('/').to_string(),
            http,
            retry: RetryPolicy::default(),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Token>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The App's JWT, valid for nine minutes.
    pub fn jwt(&self) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iat: now - JWT_BACKDATE,
            exp: now + JWT_LIFETIME,
            iss: self.app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| AuthError::Sign(e.to_string()))
    }

    /// A token for `installation`: the cached one while it has more than
    /// five minutes left, else a new one from GitHub.
    pub async fn token(&self, installation: u64) -> Result<Token, AuthError> {
        if let Some(t) = self.lock().get(&installation) {
            if t.expires_at - Utc::now() > REFRESH_BEFORE {
                return Ok(t.clone());
            }
        }
        let token = self.exchange(installation).await?;
        self.lock().insert(installation, token.clone());
        tracing::info!(
            installation,
            expires_at = %token.expires_at,
            "github: installation token fetched"
        );
        Ok(token)
    }

    /// Forget `installation`'s token (GitHub answered 401 with it).
    pub fn forget(&self, installation: u64) {
        self.lock().remove(&installation);
    }

    async fn exchange(&self, installation: u64) -> Result<Token, AuthError> {
        let url = format!(
            "{}/app/installations/{installation}/access_tokens",
            self.api_url
        );
        let answer = self
            .retry
            .run(
                "github: fetching an installation token",
                classify,
                || async {
                    let jwt = self.jwt()?;
                    let resp = self
                        .http
                        .post(&url)
                        .bearer_auth(jwt)
                        .header("accept", "application/vnd.github+json")
                        .header("x-github-api-version", "2022-11-28")
                        .send()
                        .await
                        .map_err(|e| AuthError::Transport(e.to_string()))?;
                    let status = resp.status();
                    if !status.is_success() {
                        return Err(AuthError::Refused {
                            installation,
                            status: status.as_u16(),
                        });
                    }
                    resp.json::<Granted>()
                        .await
                        .map_err(|e| AuthError::Shape(e.to_string()))
                },
            )
            .await
            .map_err(|g| g.error)?;
        Ok(Token {
            secret: SecretString::from(answer.token),
            expires_at: answer.expires_at,
        })
    }
}

/// Asking for a token again is harmless: 429, 5xx and transport errors back
/// off, refusals are final.
fn classify(e: &AuthError) -> Retry {
    match e {
        AuthError::Transport(_) => Retry::Backoff,
        AuthError::Refused { status, .. } if *status == 429 || *status >= 500 => Retry::Backoff,
        _ => Retry::Never,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_pem_says_where_to_get_one() {
        let e = AppAuth::new(
            1,
            &SecretString::from("not a key".to_string()),
            "http://127.0.0.1:9",
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .err()
        .expect("refused");
        assert!(e.to_string().contains("Generate"), "{e}");
    }
}
