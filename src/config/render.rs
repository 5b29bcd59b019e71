//! Showing a [`Config`] to people without showing its secrets:
//! `demo --print-config`, `Debug`, and URL password redaction.
//!
//! The printed YAML is the typed config's own `Serialize` (derived in
//! `config/mod.rs`); this module holds only the field serializers that differ
//! from serde's defaults: secrets become [`PLACEHOLDER`], paths and durations
//! are written the way people write them in the file, and a cluster is one
//! flat mapping.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::{ClusterConfig, ClusterSource, Config};
use crate::redact::PLACEHOLDER;

/// The password part of `scheme://user:password@host/...`, if any.
pub(super) fn url_password(url: &str) -> Option<&str> {
    url_passwords(url).into_iter().next()
}

/// Every password `url` carries: the userinfo's (`user:PW@host`) and each
/// `password=PW` of the query (libpq accepts both), in order.
pub(super) fn url_passwords(url: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let Some((_, rest)) = url.split_once("://") else {
        return out;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, pw)) = userinfo.split_once(':') {
            if !pw.is_empty() {
                out.push(pw);
            }
        }
    }
    if let Some((_, query)) = rest.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                if k.eq_ignore_ascii_case("password") && !v.is_empty() {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// `url` with every password (see [`url_passwords`]) replaced by [`PLACEHOLDER`].
pub(super) fn redact_url(url: &str) -> String {
    let mut out = String::new();
    let mut from = 0;
    for pw in url_passwords(url) {
        let start = pw.as_ptr() as usize - url.as_ptr() as usize;
        out.push_str(&url[from..start]);
        out.push_str(PLACEHOLDER);
        from = start + pw.len();
    }
    out.push_str(&url[from..]);
    out
}

/// The config as one YAML document, every secret redacted.
pub(super) fn to_yaml_redacted(cfg: &Config) -> String {
    serde_yaml::to_string(cfg).unwrap_or_default()
}

/// A secret is never written, only the fact that one is set.
pub(super) fn secret<S: Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(PLACEHOLDER)
}

/// An optional secret (fields using this skip `None`).
pub(super) fn optional_secret<S: Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => secret(v, s),
        None => s.serialize_none(),
    }
}

/// The `audit:` section, `{url: ...}` with the URL's password redacted.
pub(super) fn audit_section<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry("url", &redact_url(url))?;
    m.end()
}

/// A path as people read it (lossy for non-UTF-8, never an error).
pub(super) fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.display())
}

/// An optional path (fields using this skip `None`).
pub(super) fn optional_path<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => path(p, s),
        None => s.serialize_none(),
    }
}

/// A duration the way the file writes it (`1h`, `15m`).
/// Numbers people copy as text (Discord snowflakes), printed quoted.
pub(super) fn as_string<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&n.to_string())
}

pub(super) fn duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// A cluster as written in the file: `name` plus either `in_cluster: true`
/// or its `kubeconfig`/`context` (each only when set).
impl Serialize for ClusterConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", &self.name)?;
        match &self.source {
            ClusterSource::InCluster => m.serialize_entry("in_cluster", &true)?,
            ClusterSource::Kubeconfig { path, context } => {
                if let Some(p) = path {
                    m.serialize_entry("kubeconfig", &p.display().to_string())?;
                }
                if let Some(c) = context {
                    m.serialize_entry("context", c)?;
                }
            }
        }
        if let Some(p) = &self.prometheus {
            m.serialize_entry("prometheus", p)?;
        }
        if self.watch_cache_max_objects != crate::cluster::cache::DEFAULT_MAX_OBJECTS {
            m.serialize_entry("watch_cache_max_objects", &self.watch_cache_max_objects)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_found_and_redacted() {
        let u = "postgres://opsbot:hunter2@db:5432/opsbot";
        assert_eq!(url_password(u), Some("hunter2"));
        assert_eq!(redact_url(u), "postgres://opsbot:<redacted>@db:5432/opsbot");
        assert_eq!(url_password("postgres://db/opsbot"), None);
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }

    #[test]
    fn a_password_in_the_query_of_a_postgres_url_is_redacted_too() {
        let u = "postgres://opsbot@db/opsbot?sslmode=require&password=hunter2&PASSWORD=x";
        assert_eq!(url_passwords(u), vec!["hunter2", "x"]);
        let r = redact_url(u);
        assert_eq!(
            r,
            "postgres://opsbot@db/opsbot?sslmode=require&password=<redacted>&PASSWORD=<redacted>"
        );
        let both = "postgres://u:pw1@db/x?password=pw2";
        assert_eq!(
            redact_url(both),
            "postgres://u:<redacted>@db/x?password=<redacted>"
        );
    }
}
