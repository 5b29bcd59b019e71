//! A client for a JupyterHub's REST API (`/hub/api`).
//!
//! Some questions only the hub can answer well: who has a server and how long
//! it has been idle (the hub's `last_activity`, which the idle culler uses),
//! and stopping a server the way the hub expects (`DELETE
//! /users/{name}/server`), so its database and proxy routes stay right. The
//! token comes from `opsbot.yaml` (`hubs[].jupyterhub_api`) and is sent only
//! in the `Authorization` header: it never appears in a URL, an error or a
//! step's output.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How long one hub API request may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// One hub's API: its base URL (`http://hub.staging:8081/hub/api`) and token.
#[derive(Clone)]
pub struct HubApi {
    url: String,
    token: SecretString,
    http: reqwest::Client,
}

impl std::fmt::Debug for HubApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubApi")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Why a hub API call failed; worded for the person reading the run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HubApiError {
    /// The hub rejected the token.
    #[error("the hub's API refused opsbot's token ({status}); check `jupyterhub_api.token` for this hub in opsbot.yaml (it needs the scopes list:users, read:users and admin:servers)")]
    Unauthorized { status: u16 },
    /// The hub does not know the user.
    #[error("the hub has no user '{0}'")]
    NoSuchUser(String),
    /// Any other error status, with the hub's own message.
    #[error("the hub's API answered {status}: {message}")]
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer (refused, reset, timed out).
    #[error("cannot reach the hub's API at {url}: {message}")]
    Transport { url: String, message: String },
    /// An answer that is not what JupyterHub sends.
    #[error("unexpected answer from the hub's API: {0}")]
    Unexpected(String),
    /// A name that would re-route the request path (`..`, `a/b`): refused
    /// before anything is sent, whatever template produced it.
    #[error("`{name}` is not a JupyterHub username: {why}")]
    BadUsername { name: String, why: String },
}

/// A user as `GET /users` describes them (the fields opsbot uses).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct User {
    pub name: String,
    #[serde(default)]
    pub admin: bool,
    /// The default server's URL once it is ready.
    #[serde(default)]
    pub server: Option<String>,
    /// `spawn` or `stop` while the hub is starting or stopping the server.
    #[serde(default)]
    pub pending: Option<String>,
    #[serde(default)]
    pub last_activity: Option<String>,
    /// Named servers; `""` is the default one.
    #[serde(default)]
    pub servers: std::collections::BTreeMap<String, ServerModel>,
}

/// One of a user's servers.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ServerModel {
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub pending: Option<String>,
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub last_activity: Option<String>,
}

/// What `DELETE /users/{name}/server` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// 204: the server is stopped.
    Stopped,
    /// 202: the hub is stopping it (or already was).
    Stopping,
    /// 400: the server is not running (or is still starting), with the hub's words.
    NotRunning(String),
}

impl HubApi {
    /// A client for the API at `url` (trailing `/` optional).
    pub fn new(url: &str, token: SecretString) -> anyhow::Result<HubApi> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("opsbot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HubApi {
            url: url.trim_end_matches('/').to_string(),
            token,
            http,
        })
    }

    /// The API's base URL (no secret in it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET /users?state=…` (`active`, `ready`, `inactive`; `None`: everyone).
    pub async fn users(&self, state: Option<&str>) -> Result<Vec<User>, HubApiError> {
        let mut req = self.http.get(format!("{}/users", self.url));
        if let Some(s) = state {
            req = req.query(&[("state", s)]);
        }
        let resp = self.send(req).await?;
        let resp = self.check(resp, None).await?;
        resp.json()
            .await
            .map_err(|e| HubApiError::Unexpected(e.without_url().to_string()))
    }

    /// `GET /users/{name}`.
    pub async fn user(&self, name: &str) -> Result<User, HubApiError> {
        let req = self.http.get(self.user_url(name, "")?);
        let resp = self.send(req).await?;
        let resp = self.check(resp, Some(name)).await?;
        resp.json()
            .await
            .map_err(|e| HubApiError::Unexpected(e.without_url().to_string()))
    }

    /// `DELETE /users/{name}/server`: stop the default server.
    pub async fn stop_server(&self, name: &str) -> Result<StopOutcome, HubApiError> {
        let req = self.http.delete(self.user_url(name, "/server")?);
        let resp = self.send(req).await?;
        match resp.status().as_u16() {
            204 | 200 => Ok(StopOutcome::Stopped),
            202 => Ok(StopOutcome::Stopping),
            400 => Ok(StopOutcome::NotRunning(message_of(resp).await)),
            _ => self.check(resp, Some(name)).await.and_then(|r| {
                Err(HubApiError::Unexpected(format!(
                    "status {} to DELETE server",
                    r.status()
                )))
            }),
        }
    }

    /// `GET /users/{name}/server/progress`: the default server's spawn
    /// progress events (JupyterHub's event stream), read for at most
    /// `wait` or until a `ready` or `failed` event: a pending spawn keeps
    /// the stream open, so what came within `wait` is what there is.
    pub async fn spawn_progress(
        &self,
        name: &str,
        wait: Duration,
    ) -> Result<Vec<SpawnProgress>, HubApiError> {
        let req = self.http.get(self.user_url(name, "/server/progress")?);
        let resp = self.send(req).await?;
        let mut resp = self.check(resp, Some(name)).await?;
        let deadline = tokio::time::Instant::now() + wait;
        let mut text = String::new();
        let mut events = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, resp.chunk()).await {
                Ok(Ok(Some(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Err(_) => break,
                Ok(Err(e)) => {
                    return Err(HubApiError::Transport {
                        url: self.url.clone(),
                        message: e.without_url().to_string(),
                    })
                }
            }
            // Whole lines only; the rest waits for the next chunk.
            while let Some(at) = text.find('\n') {
                let line: String = text.drain(..=at).collect();
                if let Some(p) = SpawnProgress::from_line(&line) {
                    let last = p.ready || p.failed;
                    events.push(p);
                    if last {
                        return Ok(events);
                    }
                }
            }
        }
        events.extend(text.lines().filter_map(SpawnProgress::from_line));
        Ok(events)
    }

    /// `<url>/users/<name><rest>`, the name percent-encoded as one path segment.
    fn user_url(&self, name: &str, rest: &str) -> Result<reqwest::Url, HubApiError> {
        // The url crate drops `.`/`..` segments rather than encoding them.
        super::username::Username::new(name).map_err(|e| HubApiError::BadUsername {
            name: name.to_string(),
            why: e.to_string(),
        })?;
        let mut url = reqwest::Url::parse(&self.url)
            .map_err(|e| HubApiError::Unexpected(format!("bad hub API URL {}: {e}", self.url)))?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|_| HubApiError::Unexpected(format!("bad hub API URL {}", self.url)))?;
            segments.pop_if_empty().push("users").push(name);
            if let Some(rest) = rest.strip_prefix('/') {
                segments.extend(rest.split('/'));
            }
        }
        Ok(url)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, HubApiError> {
        req.header(
            reqwest::header::AUTHORIZATION,
            format!("token {}", self.token.expose_secret()),
        )
        .send()
        .await
        .map_err(|e| HubApiError::Transport {
            url: self.url.clone(),
            message: e.without_url().to_string(),
        })
    }

    async fn check(
        &self,
        resp: reqwest::Response,
        user: Option<&str>,
    ) -> Result<reqwest::Response, HubApiError> {
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(resp);
        }
        if status == 401 || status == 403 {
            return Err(HubApiError::Unauthorized { status });
        }
        if status == 404 {
            if let Some(u) = user {
                return Err(HubApiError::NoSuchUser(u.to_string()));
            }
        }
        let retry_after = retry_after(&resp);
        Err(HubApiError::Status {
            status,
            message: message_of(resp).await,
            retry_after,
        })
    }
}

/// One event of a spawn's progress stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpawnProgress {
    pub progress: Option<f64>,
    pub message: String,
    pub ready: bool,
    pub failed: bool,
}

impl SpawnProgress {
    /// `data: {"progress": 50, "message": "..."}`; other lines are `None`.
    fn from_line(line: &str) -> Option<SpawnProgress> {
        let v: serde_json::Value =
            serde_json::from_str(line.trim().strip_prefix("data:")?.trim()).ok()?;
        Some(SpawnProgress {
            progress: v["progress"].as_f64(),
            message: v["message"].as_str().unwrap_or("").to_string(),
            ready: v["ready"] == true,
            failed: v["failed"] == true,
        })
    }
}

/// A `Retry-After: <seconds>` header, for the executor's retry delay
/// (shared by every reqwest-based step).
pub(crate) fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// JupyterHub's error body is `{"status": N, "message": "..."}`.
async fn message_of(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_events_are_read_from_the_event_stream_lines() {
        let failed = SpawnProgress::from_line(
            "data: {\"progress\": 100, \"failed\": true, \"message\": \"Spawn failed: Timeout\"}\n",
        )
        .unwrap();
        assert!(failed.failed && !failed.ready);
        assert_eq!(failed.message, "Spawn failed: Timeout");
        assert_eq!(failed.progress, Some(100.0));
        assert!(SpawnProgress::from_line(": keepalive").is_none());
        assert!(SpawnProgress::from_line("data: not json").is_none());
    }
}
