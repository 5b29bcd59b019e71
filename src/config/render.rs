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
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    (!pw.is_empty()).then_some(pw)
}

/// `url` with its password (if any) replaced by [`PLACEHOLDER`].
pub(super) fn redact_url(url: &str) -> String {
    match url_password(url) {
        Some(pw) => {
            let start = pw.as_ptr() as usize - url.as_ptr() as usize;
            format!("{}{PLACEHOLDER}{}", &url[..start], &url[start + pw.len()..])
        }
        None => url.to_string(),
    }
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
}
