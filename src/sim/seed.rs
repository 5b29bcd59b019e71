//! Seeds: a directory per cluster of ordinary Kubernetes manifests plus an
//! optional `sim.yaml` (version, rollout delay, users and their rights,
//! injected faults, pod logs). Relative timestamps such as
//! `creationTimestamp: -3h` become "three hours before the simulator started",
//! so a seeded fleet always looks freshly broken. See `examples/fleet/`.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A parsed seed: clusters in order (the first is the kubeconfig's current context).
#[derive(Debug, Clone, Default)]
pub struct Seed {
    pub clusters: Vec<ClusterSeed>,
}

/// One cluster's settings and objects.
#[derive(Debug, Clone, Default)]
pub struct ClusterSeed {
    pub name: String,
    pub settings: SimSettings,
    pub objects: Vec<Value>,
}

/// `sim.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default = "default_delay", deserialize_with = "duration")]
    pub rollout_delay: Duration,
    #[serde(default = "default_users")]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    #[serde(default)]
    pub logs: Vec<LogSpec>,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            version: default_version(),
            rollout_delay: default_delay(),
            users: default_users(),
            faults: Vec::new(),
            logs: Vec::new(),
        }
    }
}

/// The default admin's token; tests and the demo's kubeconfig use it.
pub const ADMIN_TOKEN: &str = "opsbot-sim-admin";

fn default_version() -> String {
    "v1.31.2".into()
}
fn default_delay() -> Duration {
    Duration::from_secs(1)
}
fn default_users() -> Vec<UserSpec> {
    vec![UserSpec {
        name: "admin".into(),
        token: Some(ADMIN_TOKEN.into()),
        groups: vec!["system:masters".into()],
        rules: vec![Rule::all()],
        impersonate: true,
    }]
}

/// A simulated user: a bearer token (or none, for people opsbot
/// impersonates) and RBAC-like rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub impersonate: bool,
}

/// What a user may do: verbs on resources (`pods`, `pods/log`, `*`) in namespaces (`*` = all and cluster scope).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub resources: Vec<String>,
    #[serde(default = "star")]
    pub namespaces: Vec<String>,
}

fn star() -> Vec<String> {
    vec!["*".into()]
}

impl Rule {
    pub fn all() -> Rule {
        Rule { verbs: star(), resources: star(), namespaces: star() }
    }

    /// Whether this rule allows `verb` on `resource` (`pods` or `pods/log`) in `ns` (None = cluster scope).
    pub fn allows(&self, verb: &str, resource: &str, ns: Option<&str>) -> bool {
        let any = |list: &[String], x: &str| list.iter().any(|v| v == "*" || v == x);
        any(&self.verbs, verb)
            && any(&self.resources, resource)
            && match ns {
                Some(ns) => any(&self.namespaces, ns),
                None => self.namespaces.iter().any(|n| n == "*"),
            }
    }
}

/// An injected failure: which requests it hits and what happens to them.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Kubernetes verbs (`get`, `list`, `watch`, `patch`...); empty = all.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Resources (`pods`, `pods/log`); empty = all.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Namespaces; empty = all.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Delay before answering.
    #[serde(default, deserialize_with = "opt_duration", serialize_with = "ser_opt_duration")]
    pub latency: Option<Duration>,
    /// Answer with this status instead (429, 500, 503, 403...).
    #[serde(default)]
    pub status: Option<u16>,
    /// Seconds for `Retry-After` (with 429/503).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Never answer.
    #[serde(default)]
    pub timeout: bool,
    /// Close the connection without an answer.
    #[serde(default)]
    pub drop: bool,
    /// Only the next N matching requests; then the rule is gone.
    #[serde(default)]
    pub times: Option<u32>,
}

/// Pod log text by namespace, pod name (or `*` glob) and container.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    pub namespace: String,
    pub pod: String,
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub previous: Option<String>,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("{s:?} is not a duration like 2s or 500ms: {e}")))
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
        None => s.serialize_none(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    clusters: Vec<String>,
}

impl Seed {
    /// Load a seed directory; errors name the file (and document).
    pub fn from_dir(dir: &Path) -> anyhow::Result<Seed> {
        let order = match std::fs::read_to_string(dir.join("fleet.yaml")) {
            Ok(text) => {
                let f: FleetFile = serde_yaml::from_str(&text)
                    .with_context(|| format!("{}: expected `clusters: [name, ...]`", dir.join("fleet.yaml").display()))?;
                f.clusters
            }
            Err(_) => {
                let mut names: Vec<String> = std::fs::read_dir(dir)
                    .with_context(|| format!("cannot read the seed directory {}", dir.display()))?
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
        };
        let mut files = Vec::new();
        for cluster in &order {
            let cdir = dir.join(cluster);
            let mut entries: Vec<_> = std::fs::read_dir(&cdir)
                .with_context(|| format!("cluster {cluster}: cannot read {}", cdir.display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            entries.sort();
            for p in entries {
                let text = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
                files.push((cluster.clone(), p.display().to_string(), text));
            }
        }
        Seed::from_files(files, order)
    }

    /// Build from `(cluster, file name, contents)`; `sim.yaml` files are settings.
    pub fn from_files(files: Vec<(String, String, String)>, order: Vec<String>) -> anyhow::Result<Seed> {
        if order.is_empty() {
            bail!("the seed has no clusters: add a directory per cluster (or list them in fleet.yaml)");
        }
        let now = chrono::Utc::now();
        let mut seed = Seed::default();
        for name in &order {
            seed.clusters.push(ClusterSeed {
                name: name.clone(),
                ..ClusterSeed::default()
            });
        }
        for (cluster, file, text) in files {
            let Some(c) = seed.clusters.iter_mut().find(|c| c.name == cluster) else {
                bail!("{file}: cluster {cluster} is not listed in fleet.yaml");
            };
            let base = Path::new(&file).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            if base == "sim.yaml" || base == "sim.yml" {
                c.settings = serde_yaml::from_str(&text).with_context(|| format!("{file}"))?;
                continue;
            }
            for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
                let v = Value::deserialize(doc).with_context(|| format!("{file}: document {}", i + 1))?;
                if v.is_null() {
                    continue;
                }
                if v.get("kind").and_then(Value::as_str).is_none() || v["metadata"]["name"].as_str().is_none() {
                    bail!("{file}: document {} needs `kind` and `metadata.name`", i + 1);
                }
                let mut v = v;
                resolve_relative_times(&mut v, now);
                c.objects.push(v);
            }
        }
        Ok(seed)
    }
}

const TIME_FIELDS: &[&str] = &[
    "creationTimestamp",
    "deletionTimestamp",
    "lastTimestamp",
    "firstTimestamp",
    "eventTime",
    "startTime",
    "startedAt",
    "finishedAt",
    "lastTransitionTime",
    "lastHeartbeatTime",
    "lastProbeTime",
    "renewTime",
    "acquireTime",
];

/// `-3h` → an absolute timestamp that long before `now`.
fn resolve_relative_times(v: &mut Value, now: chrono::DateTime<chrono::Utc>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if let Value::String(s) = val {
                    if TIME_FIELDS.contains(&k.as_str()) {
                        if let Some(ago) = s.strip_prefix('-').and_then(|d| humantime::parse_duration(d).ok()) {
                            let t = now - chrono::Duration::from_std(ago).unwrap_or_default();
                            *val = if k == "eventTime" || k == "renewTime" || k == "acquireTime" {
                                Value::String(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                            } else {
                                Value::String(super::store::timestamp(t))
                            };
                        }
                        continue;
                    }
                }
                resolve_relative_times(val, now);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| resolve_relative_times(x, now)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_timestamps_become_absolute() {
        let files = vec![(
            "c1".to_string(),
            "pods.yaml".to_string(),
            "apiVersion: v1\nkind: Pod\nmetadata: { name: p, namespace: ns, creationTimestamp: -3h }\nstatus: { startTime: -2h }\n".to_string(),
        )];
        let seed = Seed::from_files(files, vec!["c1".into()]).unwrap();
        let t = seed.clusters[0].objects[0]["metadata"]["creationTimestamp"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(t).unwrap();
        let age = chrono::Utc::now() - parsed.with_timezone(&chrono::Utc);
        assert!((age.num_minutes() - 180).abs() <= 1, "{t}");
    }

    #[test]
    fn a_document_without_a_kind_names_its_file_and_index() {
        let files = vec![("c1".into(), "x.yaml".into(), "kind: Pod\nmetadata: {name: a}\n---\nmetadata: {name: b}\n".into())];
        let e = Seed::from_files(files, vec!["c1".into()]).unwrap_err().to_string();
        assert!(e.contains("x.yaml: document 2"), "{e}");
    }

    #[test]
    fn sim_settings_parse_users_faults_and_logs() {
        let text = "version: v1.30.1\nrollout_delay: 200ms\nusers:\n  - { name: ro, token: t, rules: [{ verbs: [get], resources: [pods] }] }\nfaults:\n  - { resources: [pods], status: 429, retry_after: 1, times: 2 }\n  - { verbs: [list], latency: 2s }\nlogs:\n  - { namespace: ns, pod: \"hub-*\", text: hello }\n";
        let seed = Seed::from_files(vec![("c1".into(), "sim.yaml".into(), text.into())], vec!["c1".into()]).unwrap();
        let s = &seed.clusters[0].settings;
        assert_eq!(s.rollout_delay, Duration::from_millis(200));
        assert_eq!(s.faults[0].status, Some(429));
        assert_eq!(s.faults[1].latency, Some(Duration::from_secs(2)));
        assert!(s.users[0].rules[0].allows("get", "pods", Some("any")));
        assert!(!s.users[0].rules[0].allows("list", "pods", Some("any")));
    }
}
