//! Showing a [`Config`] to people without showing its secrets:
//! `demo --print-config`, `Debug`, and URL password redaction.

use serde_yaml::{Mapping, Value};

use super::*;

const REDACTED: &str = "<redacted>";

/// The password part of `scheme://user:password@host/...`, if any.
pub(super) fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    (!pw.is_empty()).then_some(pw)
}

/// `url` with its password (if any) replaced by `<redacted>`.
pub(super) fn redact_url(url: &str) -> String {
    match url_password(url) {
        Some(pw) => {
            let start = pw.as_ptr() as usize - url.as_ptr() as usize;
            format!("{}{REDACTED}{}", &url[..start], &url[start + pw.len()..])
        }
        None => url.to_string(),
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn list(items: &[String]) -> Value {
    Value::Sequence(items.iter().map(|i| s(i.clone())).collect())
}

fn secret(v: &Option<SecretString>) -> Value {
    match v {
        Some(_) => s(REDACTED),
        None => Value::Null,
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        if !v.is_null() {
            m.insert(s(k), v);
        }
    }
    Value::Mapping(m)
}

fn opt(v: &Option<String>) -> Value {
    v.as_ref().map(|x| s(x.clone())).unwrap_or(Value::Null)
}

fn path(p: &Path) -> Value {
    s(p.display().to_string())
}

fn pattern_map(m: &BTreeMap<String, Vec<String>>) -> Value {
    let mut out = Mapping::new();
    for (k, v) in m {
        out.insert(s(k.clone()), list(v));
    }
    Value::Mapping(out)
}

pub(super) fn to_yaml_redacted(cfg: &Config) -> String {
    let clusters = cfg
        .clusters
        .iter()
        .map(|c| match &c.source {
            ClusterSource::InCluster => map(vec![
                ("name", s(c.name.clone())),
                ("in_cluster", Value::Bool(true)),
            ]),
            ClusterSource::Kubeconfig { path: p, context } => map(vec![
                ("name", s(c.name.clone())),
                ("kubeconfig", p.as_deref().map(path).unwrap_or(Value::Null)),
                ("context", opt(context)),
            ]),
        })
        .collect();
    let hubs = cfg
        .hubs
        .iter()
        .map(|h| {
            map(vec![
                ("name", s(h.name.clone())),
                ("cluster", s(h.cluster.clone())),
                ("namespace", s(h.namespace.clone())),
                (
                    "jupyterhub_api",
                    h.jupyterhub_api
                        .as_ref()
                        .map(|a| map(vec![("url", s(a.url.clone())), ("token", s(REDACTED))]))
                        .unwrap_or(Value::Null),
                ),
            ])
        })
        .collect();
    let people = cfg
        .people
        .iter()
        .map(|p| {
            map(vec![
                ("id", s(p.id.clone())),
                ("name", opt(&p.name)),
                ("slack", opt(&p.slack)),
                ("github", opt(&p.github)),
                ("discord", opt(&p.discord)),
                ("kube_user", opt(&p.kube_user)),
                ("roles", list(&p.roles)),
            ])
        })
        .collect();
    let mut roles = Mapping::new();
    for (name, r) in &cfg.roles {
        let scope = if r.scope == Scope::default() {
            Value::Null
        } else {
            map(vec![
                ("hubs", list(&r.scope.hubs)),
                ("clusters", list(&r.scope.clusters)),
            ])
        };
        roles.insert(
            s(name.clone()),
            map(vec![
                ("run", list(&r.run)),
                ("approve", list(&r.approve)),
                ("scope", scope),
            ]),
        );
    }
    let policy = map(vec![
        (
            "approval_ttl",
            s(humantime::format_duration(cfg.policy.approval_ttl).to_string()),
        ),
        (
            "exempt_from_approval",
            list(&cfg.policy.exempt_from_approval),
        ),
        ("always_allowed", list(&cfg.policy.always_allowed)),
    ]);
    let slack = cfg
        .slack
        .as_ref()
        .map(|sl| {
            map(vec![
                ("signing_secret", secret(&sl.signing_secret)),
                ("bot_token", secret(&sl.bot_token)),
                ("app_token", secret(&sl.app_token)),
                ("api_url", s(sl.api_url.clone())),
                ("channels", pattern_map(&sl.channels)),
            ])
        })
        .unwrap_or(Value::Null);
    let github = cfg
        .github
        .as_ref()
        .map(|g| {
            map(vec![
                ("webhook_secret", s(REDACTED)),
                ("token", secret(&g.token)),
                (
                    "app_id",
                    g.app_id
                        .map(|a| Value::Number(a.into()))
                        .unwrap_or(Value::Null),
                ),
                (
                    "private_key_file",
                    g.private_key_file
                        .as_deref()
                        .map(path)
                        .unwrap_or(Value::Null),
                ),
                ("api_url", s(g.api_url.clone())),
                ("prefix", s(g.prefix.clone())),
                ("run_on_edit", Value::Bool(g.run_on_edit)),
                (
                    "max_commands_per_comment",
                    Value::Number((g.max_commands_per_comment as u64).into()),
                ),
                ("teams", pattern_map(&g.teams)),
                (
                    "min_permission",
                    g.min_permission.map(|p| s(p.word())).unwrap_or(Value::Null),
                ),
                ("triage_labels", Value::Bool(g.triage_labels)),
            ])
        })
        .unwrap_or(Value::Null);
    let discord = cfg
        .discord
        .as_ref()
        .map(|d| {
            map(vec![
                ("public_key", s(d.public_key.clone())),
                ("application_id", s(d.application_id.clone())),
                ("bot_token", secret(&d.bot_token)),
                ("api_url", s(d.api_url.clone())),
                ("roles", pattern_map(&d.roles)),
            ])
        })
        .unwrap_or(Value::Null);
    let doc = map(vec![
        ("listen", s(cfg.listen.to_string())),
        ("audit", map(vec![("url", s(redact_url(&cfg.audit_url)))])),
        ("commands", path(&cfg.commands_dir)),
        ("playbooks", path(&cfg.playbooks_dir)),
        ("clusters", Value::Sequence(clusters)),
        ("hubs", Value::Sequence(hubs)),
        ("discover_hubs", Value::Bool(cfg.discover_hubs)),
        ("people", Value::Sequence(people)),
        ("roles", Value::Mapping(roles)),
        ("policy", policy),
        ("slack", slack),
        ("github", github),
        ("discord", discord),
    ]);
    serde_yaml::to_string(&doc).unwrap_or_default()
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
