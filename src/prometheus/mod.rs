//! The Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`) of one
//! cluster's Prometheus, for the `prometheus.*` steps.
//!
//! Each cluster names its own Prometheus in `opsbot.yaml`
//! (`clusters[].prometheus`); every error says which one failed and what to
//! check, because an operator with several clusters otherwise cannot tell
//! a down Prometheus from a wrong query.

pub mod result;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub use result::Answer;

use crate::config::PrometheusConfig;

/// Why a query got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PrometheusError {
    /// No answer at all: refused, reset, or slower than the timeout.
    #[error("the Prometheus of cluster '{cluster}' ({url}) {what}; check that it runs and that `clusters[].prometheus.url` points at it")]
    Transport {
        cluster: String,
        url: String,
        what: String,
    },
    /// It answered with an error (a bad query is a 400, an overloaded
    /// server a 503).
    #[error("the Prometheus of cluster '{cluster}' answered {status}{kind}: {message}")]
    Status {
        cluster: String,
        status: u16,
        kind: String,
        message: String,
    },
    /// It refused opsbot's credentials.
    #[error("the Prometheus of cluster '{cluster}' refused opsbot ({status}); check `clusters[].prometheus.token` for this cluster in opsbot.yaml")]
    Unauthorized { cluster: String, status: u16 },
    /// An answer that is not the API's JSON.
    #[error("the Prometheus of cluster '{cluster}' ({url}) sent an answer opsbot cannot read ({message}); is the URL that of Prometheus itself, not a UI or proxy in front of it?")]
    Unreadable {
        cluster: String,
        url: String,
        message: String,
    },
}

impl PrometheusError {
    /// Whether asking again may help (no answer, 429, 5xx).
    pub fn transient(&self) -> bool {
        match self {
            PrometheusError::Transport { .. } => true,
            PrometheusError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// One cluster's Prometheus. Cheap to clone.
#[derive(Clone)]
pub struct Prometheus {
    cluster: String,
    url: String,
    token: Option<SecretString>,
    timeout: Duration,
    http: reqwest::Client,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus")
            .field("cluster", &self.cluster)
            .field("url", &self.url)
            .finish()
    }
}

/// A range query's window and resolution.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
    pub step: Duration,
}

impl Prometheus {
    pub fn new(cluster: &str, cfg: &PrometheusConfig) -> anyhow::Result<Prometheus> {
        let http = reqwest::Client::builder().timeout(cfg.timeout).build()?;
        Ok(Prometheus {
            cluster: cluster.to_string(),
            url: cfg.url.trim_end_matches('/').to_string(),
            token: cfg.token.clone(),
            timeout: cfg.timeout,
            http,
        })
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// An instant query, evaluated now.
    pub async fn query(&self, query: &str) -> Result<Answer, PrometheusError> {
        self.get("/api/v1/query", &[("query", query.to_string())])
            .await
    }

    /// A range query over `range`.
    pub async fn query_range(&self, query: &str, range: Range) -> Result<Answer, PrometheusError> {
        let secs = |t: chrono::DateTime<chrono::Utc>| {
            format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
        };
        self.get(
            "/api/v1/query_range",
            &[
                ("query", query.to_string()),
                ("start", secs(range.start)),
                ("end", secs(range.end)),
                ("step", format!("{}", range.step.as_secs_f64())),
            ],
        )
        .await
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Answer, PrometheusError> {
        let mut req = self.http.get(format!("{}{path}", self.url)).query(params);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose_secret());
        }
        let resp = req.send().await.map_err(|e| PrometheusError::Transport {
            cluster: self.cluster.clone(),
            url: self.url.clone(),
            what: if e.is_timeout() {
                format!(
                    "did not answer within {} (`clusters[].prometheus.timeout`)",
                    humantime::format_duration(self.timeout)
                )
            } else {
                format!("could not be reached: {}", e.without_url())
            },
        })?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(PrometheusError::Unauthorized {
                cluster: self.cluster.clone(),
                status,
            });
        }
        let text = resp.text().await.map_err(|e| PrometheusError::Transport {
            cluster: self.cluster.clone(),
            url: self.url.clone(),
            what: format!("broke off its answer: {}", e.without_url()),
        })?;
        let body: Value = serde_json::from_str(&text).map_err(|e| {
            let first: String = text.chars().take(120).collect();
            PrometheusError::Unreadable {
                cluster: self.cluster.clone(),
                url: self.url.clone(),
                message: format!("HTTP {status}, not JSON: {e}; it starts `{first}`"),
            }
        })?;
        if body["status"] != "success" {
            return Err(PrometheusError::Status {
                cluster: self.cluster.clone(),
                status,
                kind: body["errorType"]
                    .as_str()
                    .map(|k| format!(" ({k})"))
                    .unwrap_or_default(),
                message: body["error"]
                    .as_str()
                    .unwrap_or("no error message")
                    .to_string(),
            });
        }
        Answer::parse(&body["data"]).map_err(|message| PrometheusError::Unreadable {
            cluster: self.cluster.clone(),
            url: self.url.clone(),
            message,
        })
    }
}
