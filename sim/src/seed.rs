//! Seed directories (see `sim/SEED-FORMAT.md`): per-cluster multi-document
//! manifests plus an optional `sim.yaml`, resolved into JSON objects.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;
use serde_json::Value;

use super::auth::UserSpec;
use super::faults::FaultRule;
use super::logs::LogSpec;

/// A parsed seed: the clusters in order, each with its objects and settings.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    pub clusters: Vec<SeedCluster>,
}

/// One cluster of a seed.
#[derive(Debug, Clone, Default)]
pub struct SeedCluster {
    pub name: String,
    pub settings: SimSettings,
    /// Manifests with relative timestamps already resolved.
    pub objects: Vec<Value>,
}

/// `sim.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    pub version: Option<String>,
    #[serde(deserialize_with = "super::faults::duration_str")]
    pub rollout_delay: Option<Duration>,
    pub users: Vec<UserSpec>,
    pub faults: Vec<FaultRule>,
    pub logs: Vec<LogSpec>,
    /// JupyterHubs whose REST API the simulator serves (see [`super::hubapi`]).
    pub jupyterhub: Vec<super::hubapi::HubSpec>,
}

#[derive(Deserialize)]
struct FleetFile {
    clusters: Vec<String>,
}

const RELATIVE_FIELDS: &[&str] = &[
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
    "lastUpdateTime",
    "timeAdded",
];

impl Seed {
    /// Read a seed directory; errors name the file (and document index).
    pub fn from_dir(dir: &Path) -> anyhow::Result<Seed> {
        let mut order = Vec::new();
        let fleet = dir.join("fleet.yaml");
        if fleet.exists() {
            let text = std::fs::read_to_string(&fleet)
                .with_context(|| format!("reading {}", fleet.display()))?;
            let f: FleetFile = serde_yaml::from_str(&text).with_context(|| {
                format!("{}: expected `clusters: [name, ...]`", fleet.display())
            })?;
            order = f.clusters;
        }
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading seed directory {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let cluster = entry.file_name().to_string_lossy().to_string();
            for f in std::fs::read_dir(entry.path())? {
                let f = f?;
                let name = f.file_name().to_string_lossy().to_string();
                if f.file_type()?.is_file() && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                    let text = std::fs::read_to_string(f.path())
                        .with_context(|| format!("reading {}", f.path().display()))?;
                    files.push((cluster.clone(), name, text));
                }
            }
        }
        if files.is_empty() && order.is_empty() {
            bail!("{}: no cluster directories with .yaml files; a seed is <dir>/<cluster>/*.yaml (see sim/SEED-FORMAT.md)", dir.display());
        }
        Seed::from_files(files, order).with_context(|| format!("seed {}", dir.display()))
    }

    /// Build from in-memory files `(cluster, file name, contents)` (for embedding); `order` may be empty.
    pub fn from_files(
        mut files: Vec<(String, String, String)>,
        order: Vec<String>,
    ) -> anyhow::Result<Seed> {
        files.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut names: Vec<String> = order;
        let mut extra: Vec<String> = files
            .iter()
            .map(|f| f.0.clone())
            .filter(|c| !names.contains(c))
            .collect();
        extra.dedup();
        names.extend(extra);
        let now = chrono::Utc::now();
        let mut clusters = Vec::new();
        for name in names {
            let mut c = SeedCluster {
                name: name.clone(),
                ..Default::default()
            };
            for (_, file, text) in files.iter().filter(|f| f.0 == name) {
                let label = format!("{name}/{file}");
                if file == "sim.yaml" || file == "sim.yml" {
                    c.settings = serde_yaml::from_str(text).map_err(|e| anyhow!("{label}: {e}"))?;
                    continue;
                }
                for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
                    let v: Value = Value::deserialize(doc)
                        .map_err(|e| anyhow!("{label}: document {}: {e}", i + 1))?;
                    if v.is_null() {
                        continue;
                    }
                    let mut items = if v["kind"].as_str().is_some_and(|k| k.ends_with("List")) {
                        v["items"].as_array().cloned().unwrap_or_default()
                    } else {
                        vec![v]
                    };
                    for item in &mut items {
                        check_object(item)
                            .map_err(|e| anyhow!("{label}: document {}: {e}", i + 1))?;
                        resolve_relative(item, now)
                            .map_err(|e| anyhow!("{label}: document {}: {e}", i + 1))?;
                    }
                    c.objects.extend(items);
                }
            }
            clusters.push(c);
        }
        Ok(Seed { clusters })
    }
}

fn check_object(v: &Value) -> anyhow::Result<()> {
    let (Some(av), Some(kind)) = (v["apiVersion"].as_str(), v["kind"].as_str()) else {
        bail!("not a Kubernetes object: `apiVersion` and `kind` are required");
    };
    if super::discovery::by_kind(av, kind).is_none() {
        bail!("unsupported kind {kind} in {av}; the simulator serves core/v1, apps/v1, events.k8s.io/v1, coordination.k8s.io/v1, policy/v1, apiextensions.k8s.io/v1 and gateway.dask.org/v1alpha1 kinds");
    }
    if v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        bail!("{kind} without metadata.name");
    }
    Ok(())
}

/// Replace `-3h` style values of timestamp fields with `now - 3h`.
fn resolve_relative(v: &mut Value, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let listed = RELATIVE_FIELDS.contains(&k.as_str());
                if listed || k.ends_with("Time") || k.ends_with("Timestamp") || k.ends_with("At") {
                    if let Some(s) = x.as_str() {
                        if let Some(rel) = s.strip_prefix('-') {
                            let d = match humantime::parse_duration(rel.trim()) {
                                Ok(d) => d,
                                Err(e) if listed => bail!("{k}: {s:?} is neither RFC 3339 nor a relative age like `-3h` ({e})"),
                                Err(_) => continue,
                            };
                            let t = now - chrono::Duration::from_std(d)?;
                            *x =
                                Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                        }
                    }
                } else {
                    resolve_relative(x, now)?;
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                resolve_relative(x, now)?;
            }
        }
        _ => {}
    }
    Ok(())
}
