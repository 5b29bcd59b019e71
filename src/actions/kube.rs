//! `kube.*` steps: read and change Kubernetes objects through the real kube
//! client.
//!
//! Kinds map to API resources through [`KINDS`]; objects are handled as
//! `DynamicObject` and summarised into template-friendly JSON
//! (`{name, namespace, labels, phase, node, ready, restarts, age, ..., raw}`).
//! Mutating steps honour dry-run by sending `dryRun=All` (server-side dry run).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde::Deserialize;
use serde_json::{json, Value};

use super::cached;
use super::{
    check_args, parse_args, parse_duration, short_age, ActionCall, ActionError, ActionSpec,
    Permission, Target,
};

/// One Kubernetes kind opsbot knows: `(kind, group, version, plural, namespaced)`.
pub const KINDS: &[(&str, &str, &str, &str, bool)] = &[
    ("Pod", "", "v1", "pods", true),
    ("Deployment", "apps", "v1", "deployments", true),
    ("StatefulSet", "apps", "v1", "statefulsets", true),
    ("ReplicaSet", "apps", "v1", "replicasets", true),
    ("DaemonSet", "apps", "v1", "daemonsets", true),
    ("Service", "", "v1", "services", true),
    ("Node", "", "v1", "nodes", false),
    ("Namespace", "", "v1", "namespaces", false),
    ("Event", "", "v1", "events", true),
    ("ConfigMap", "", "v1", "configmaps", true),
    (
        "PersistentVolumeClaim",
        "",
        "v1",
        "persistentvolumeclaims",
        true,
    ),
    ("Lease", "coordination.k8s.io", "v1", "leases", true),
    (
        "DaskCluster",
        "gateway.dask.org",
        "v1alpha1",
        "daskclusters",
        true,
    ),
];

/// The API resource of a kind, or a message listing the known kinds.
pub fn kind_resource(kind: &str) -> Result<(ApiResource, bool), String> {
    let found = KINDS
        .iter()
        .find(|(k, ..)| k.eq_ignore_ascii_case(kind))
        .ok_or_else(|| {
            let known: Vec<&str> = KINDS.iter().map(|k| k.0).collect();
            format!("unknown kind '{kind}' (known: {})", known.join(", "))
        })?;
    let (k, group, version, plural, namespaced) = *found;
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok((
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version,
            kind: k.into(),
            plural: plural.into(),
        },
        namespaced,
    ))
}

/// Every `kube.*` step kind.
pub fn actions() -> Vec<ActionSpec> {
    vec![
        spec::<GetArgs>(
            "kube.get",
            false,
            |a| cached_perms(a, "get"),
            describe_obj("get"),
            |c| Box::pin(get(c)),
        ),
        spec::<ListArgs>(
            "kube.list",
            false,
            |a| cached_perms(a, "list"),
            describe_obj("list"),
            |c| Box::pin(list(c)),
        ),
        spec::<LogsArgs>(
            "kube.logs",
            false,
            |_| vec![Permission::new("get", "", "pods/log")],
            |a| target(a, "get", Some("Pod"), Some("log")),
            |c| Box::pin(logs(c)),
        ),
        spec::<EventsArgs>(
            "kube.events",
            false,
            // `watch` for the server's cache, which answers it (see
            // `cached::events_from_cache`).
            |_| super::cached::with_watch(vec![Permission::new("list", "", "events")]),
            |a| target(a, "list", Some("Event"), None),
            |c| Box::pin(events(c)),
        ),
        spec::<ObjArgs>(
            "kube.rollout_restart",
            true,
            perm_kind("patch"),
            describe_obj("patch"),
            |c| Box::pin(rollout_restart(c)),
        ),
        spec::<WaitArgs>(
            "kube.wait_rollout",
            false,
            perm_kind("get"),
            describe_obj("get"),
            |c| Box::pin(wait_rollout(c)),
        ),
        spec::<ScaleArgs>(
            "kube.scale",
            true,
            |a| {
                let plural = kind_of(a)
                    .and_then(|k| kind_resource(&k).ok())
                    .map(|(r, _)| (r.group, r.plural));
                match plural {
                    Some((g, p)) => vec![
                        Permission::new("get", &g, &format!("{p}/scale")),
                        Permission::new("patch", &g, &format!("{p}/scale")),
                    ],
                    None => vec![],
                }
            },
            |a| target(a, "patch", None, Some("scale")),
            |c| Box::pin(scale(c)),
        ),
        spec::<DeleteArgs>(
            "kube.delete",
            true,
            perm_kind("delete"),
            describe_obj("delete"),
            |c| Box::pin(delete(c)),
        ),
        spec::<NodeArgs>(
            "kube.cordon",
            true,
            |_| vec![Permission::new("patch", "", "nodes")],
            |a| target(a, "patch", Some("Node"), None),
            |c| Box::pin(cordon(c, true)),
        ),
        spec::<NodeArgs>(
            "kube.uncordon",
            true,
            |_| vec![Permission::new("patch", "", "nodes")],
            |a| target(a, "patch", Some("Node"), None),
            |c| Box::pin(cordon(c, false)),
        ),
    ]
}

type Fut = futures::future::BoxFuture<'static, Result<Value, ActionError>>;

fn spec<A: serde::de::DeserializeOwned + 'static>(
    name: &'static str,
    mutates: bool,
    permissions: fn(&Value) -> Vec<Permission>,
    describe: fn(&Value) -> Target,
    run: fn(ActionCall) -> Fut,
) -> ActionSpec {
    ActionSpec {
        name,
        mutates,
        // Every Kubernetes change here is written to be idempotent: absolute
        // values (scale, cordon), a stable restart stamp, a delete that
        // checks on retry whether its object is already gone.
        idempotent: mutates,
        check: |v| {
            check_args::<A>(v)?;
            // A literal kind must be one we know.
            match kind_of(v) {
                Some(k) if !k.contains("{{") => kind_resource(&k).map(|_| ()),
                _ => Ok(()),
            }
        },
        permissions,
        describe,
        run: std::sync::Arc::new(run),
    }
}

fn kind_of(args: &Value) -> Option<String> {
    args.get("kind").and_then(Value::as_str).map(str::to_string)
}

fn perm_kind(verb: &'static str) -> fn(&Value) -> Vec<Permission> {
    match verb {
        "get" => |a| perms_for(a, "get"),
        "list" => |a| perms_for(a, "list"),
        "patch" => |a| perms_for(a, "patch"),
        _ => |a| perms_for(a, "delete"),
    }
}

/// A read-only `kube.get`/`kube.list` permission; for a kind the watch
/// cache keeps, with the `list` and `watch` the server's cache needs to
/// answer it (see `cached::with_watch`).
fn cached_perms(args: &Value, verb: &str) -> Vec<Permission> {
    let perms = perms_for(args, verb);
    match kind_of(args) {
        Some(k) if super::cached::cached_kind(&k) => {
            let mut listed = super::cached::with_watch(perms_for(args, "list"));
            if verb != "list" {
                listed.splice(0..0, perms);
            }
            listed
        }
        _ => perms,
    }
}

pub(crate) fn perms_for(args: &Value, verb: &str) -> Vec<Permission> {
    kind_of(args)
        .and_then(|k| kind_resource(&k).ok())
        .map(|(r, _)| vec![Permission::new(verb, &r.group, &r.plural)])
        .unwrap_or_default()
}

fn describe_obj(verb: &'static str) -> fn(&Value) -> Target {
    match verb {
        "get" => |a| target(a, "get", None, None),
        "list" => |a| target(a, "list", None, None),
        "patch" => |a| target(a, "patch", None, None),
        _ => |a| target(a, "delete", None, None),
    }
}

/// `apps/v1 deployments staging/hub @aws-us`.
fn target(args: &Value, verb: &str, kind: Option<&str>, sub: Option<&str>) -> Target {
    let s = |k: &str| {
        args.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let kind = kind.map(str::to_string).unwrap_or_else(|| s("kind"));
    let (api, plural) = match kind_resource(&kind) {
        Ok((r, _)) => (r.api_version, r.plural),
        Err(_) => ("?".to_string(), kind.to_lowercase()),
    };
    let plural = match sub {
        Some(sub) => format!("{plural}/{sub}"),
        None => plural,
    };
    let ns = s("namespace");
    let name = s("name");
    let object = match (ns.is_empty(), name.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!(" {name}"),
        (false, true) => format!(" {ns}"),
        (false, false) => format!(" {ns}/{name}"),
    };
    Target {
        verb: verb.to_string(),
        target: format!("{api} {plural}{object} @{}", s("cluster")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    cluster: String,
    #[serde(default)]
    namespace: Option<String>,
    kind: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    cluster: String,
    #[serde(default)]
    namespace: Option<String>,
    kind: String,
    #[serde(default)]
    labels: Option<String>,
    #[serde(default)]
    fields: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsArgs {
    cluster: String,
    namespace: String,
    name: String,
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    tail: Option<i64>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    previous: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsArgs {
    cluster: String,
    namespace: String,
    /// One object's events (with `kind`), or the whole namespace.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    warnings_only: Option<bool>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjArgs {
    cluster: String,
    namespace: String,
    kind: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitArgs {
    cluster: String,
    namespace: String,
    kind: String,
    name: String,
    #[serde(default)]
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleArgs {
    cluster: String,
    namespace: String,
    kind: String,
    name: String,
    replicas: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteArgs {
    cluster: String,
    #[serde(default)]
    namespace: Option<String>,
    kind: String,
    name: String,
    #[serde(default)]
    grace_period: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeArgs {
    cluster: String,
    name: String,
}

/// The cluster's client, impersonating the run's user when set.
pub(crate) fn client(call: &ActionCall, cluster: &str) -> Result<kube::Client, ActionError> {
    let r = match &call.impersonate {
        Some(user) => call.clusters.impersonating(cluster, user),
        None => call.clusters.get(cluster),
    };
    r.map_err(|e| ActionError::Invalid(e.to_string()))
}

pub(crate) fn dyn_api(
    call: &ActionCall,
    cluster: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Result<(Api<DynamicObject>, ApiResource), ActionError> {
    let client = client(call, cluster)?;
    let (res, namespaced) = kind_resource(kind).map_err(ActionError::Invalid)?;
    let api = match (namespaced, namespace.filter(|n| !n.is_empty())) {
        (true, Some(ns)) => Api::namespaced_with(client, ns, &res),
        _ => Api::all_with(client, &res),
    };
    Ok((api, res))
}

/// Turn a kube error into something the executor can classify and people can read.
pub fn from_kube(e: kube::Error) -> ActionError {
    match e {
        kube::Error::Api(s) => {
            let retry_after = s
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s.into()));
            let reason = if s.reason.is_empty() {
                format!("HTTP {}", s.code)
            } else {
                s.reason.clone()
            };
            ActionError::Api {
                code: s.code,
                reason,
                message: s.message.clone(),
                retry_after,
            }
        }
        kube::Error::HyperError(e) => ActionError::Transport(format!("connection failed: {e}")),
        kube::Error::Service(e) => ActionError::Transport(format!("request failed: {e}")),
        other => ActionError::Failed(other.to_string()),
    }
}

pub(crate) fn dry(call: &ActionCall) -> PatchParams {
    let pp = PatchParams::default();
    if call.dry_run {
        pp.dry_run()
    } else {
        pp
    }
}

/// The namespace a read of `kind` is scoped to (`None`: all, or a
/// cluster-scoped kind), as [`dyn_api`] scopes it.
fn read_scope<'a>(kind: &str, namespace: Option<&'a str>) -> Option<&'a str> {
    let namespaced = kind_resource(kind).map(|(_, n)| n).unwrap_or(true);
    namespace.filter(|n| namespaced && !n.is_empty())
}

async fn get(call: ActionCall) -> Result<Value, ActionError> {
    let a: GetArgs = parse_args(&call.args)?;
    let (api, _) = dyn_api(&call, &a.cluster, &a.kind, a.namespace.as_deref())?;
    // From the watch cache when it can answer and holds the object; a miss
    // asks the API server (the object may be newer than the cache, and
    // only the API server says "not found").
    let ns = read_scope(&a.kind, a.namespace.as_deref());
    let by_name = ListParams::default().fields(&format!("metadata.name={}", a.name));
    if let Some((mut items, age)) = cached::from_cache(&call, &a.cluster, &a.kind, ns, &by_name) {
        if let Some(obj) = items.pop().filter(|_| items.is_empty()) {
            let mut out = summary(&a.kind, obj, call.whole_objects);
            out["cache"] = cached::cache_field(Some(age));
            return Ok(out);
        }
    }
    let obj = api.get(&a.name).await.map_err(from_kube)?;
    let obj = serde_json::to_value(obj).unwrap_or_default();
    let mut out = summary(&a.kind, obj, call.whole_objects);
    out["cache"] = Value::Null;
    Ok(out)
}

async fn list(call: ActionCall) -> Result<Value, ActionError> {
    let a: ListArgs = parse_args(&call.args)?;
    let (api, _) = dyn_api(&call, &a.cluster, &a.kind, a.namespace.as_deref())?;
    let mut lp = ListParams::default();
    if let Some(l) = a.labels.filter(|l| !l.is_empty()) {
        lp = lp.labels(&l);
    }
    if let Some(f) = a.fields.filter(|f| !f.is_empty()) {
        lp = lp.fields(&f);
    }
    if let Some(n) = a.limit {
        lp = lp.limit(n);
    }
    let ns = read_scope(&a.kind, a.namespace.as_deref());
    if let Some((objects, age)) = cached::from_cache(&call, &a.cluster, &a.kind, ns, &lp) {
        let items: Vec<Value> = objects
            .into_iter()
            .map(|o| summary(&a.kind, o, call.whole_objects))
            .collect();
        return Ok(
            json!({ "count": items.len(), "items": items, "cache": cached::cache_field(Some(age)) }),
        );
    }
    let list = api.list(&lp).await.map_err(from_kube)?;
    let items: Vec<Value> = list
        .items
        .into_iter()
        .map(|o| {
            let o = serde_json::to_value(o).unwrap_or_default();
            summary(&a.kind, o, call.whole_objects)
        })
        .collect();
    Ok(json!({ "count": items.len(), "items": items, "cache": null }))
}

async fn logs(call: ActionCall) -> Result<Value, ActionError> {
    let a: LogsArgs = parse_args(&call.args)?;
    let api: Api<Pod> = Api::namespaced(client(&call, &a.cluster)?, &a.namespace);
    let lp = LogParams {
        container: a.container.clone().filter(|c| !c.is_empty()),
        tail_lines: a.tail,
        previous: a.previous.unwrap_or(false),
        since_seconds: match &a.since {
            Some(s) => Some(parse_duration("since", s)?.as_secs() as i64),
            None => None,
        },
        ..Default::default()
    };
    let text = api.logs(&a.name, &lp).await.map_err(from_kube)?;
    let lines: Vec<&str> = text.lines().collect();
    Ok(
        json!({ "text": text, "lines": lines, "line_count": lines.len(), "pod": a.name, "container": a.container, "previous": a.previous.unwrap_or(false) }),
    )
}

async fn events(call: ActionCall) -> Result<Value, ActionError> {
    let a: EventsArgs = parse_args(&call.args)?;
    let (api, _) = dyn_api(&call, &a.cluster, "Event", Some(&a.namespace))?;
    let mut fields = Vec::new();
    if let Some(n) = a.name.as_ref().filter(|n| !n.is_empty()) {
        fields.push(format!("involvedObject.name={n}"));
    }
    if let Some(k) = a.kind.as_ref().filter(|k| !k.is_empty()) {
        fields.push(format!("involvedObject.kind={k}"));
    }
    if a.warnings_only.unwrap_or(false) {
        fields.push("type=Warning".to_string());
    }
    let mut lp = ListParams::default();
    if !fields.is_empty() {
        lp = lp.fields(&fields.join(","));
    }
    let since = match &a.since {
        Some(s) => Some(parse_duration("since", s)?),
        None => None,
    };
    let name = a.name.as_deref().filter(|n| !n.is_empty());
    let kind = a.kind.as_deref().filter(|k| !k.is_empty());
    let warnings_only = a.warnings_only.unwrap_or(false);
    let cached =
        cached::events_from_cache(&call, &a.cluster, &a.namespace, kind, name, warnings_only);
    let (listed, cache) = match cached {
        Some((objects, age)) => (objects, cached::cache_field(Some(age))),
        None => {
            let list = api.list(&lp).await.map_err(from_kube)?;
            let objects = list.items.into_iter();
            let objects = objects.map(|o| serde_json::to_value(o).unwrap_or_default());
            (objects.collect(), Value::Null)
        }
    };
    let now = chrono::Utc::now();
    let mut items: Vec<(chrono::DateTime<chrono::Utc>, Value)> = Vec::new();
    for v in listed {
        let ts = ["lastTimestamp", "eventTime", "firstTimestamp"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .or_else(|| {
                v.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
            })
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or(now);
        // Field selectors may be unsupported by a server: filter here too.
        if a.warnings_only.unwrap_or(false)
            && v.get("type").and_then(Value::as_str) != Some("Warning")
        {
            continue;
        }
        if let Some(n) = a.name.as_ref().filter(|n| !n.is_empty()) {
            if v.pointer("/involvedObject/name").and_then(Value::as_str) != Some(n) {
                continue;
            }
        }
        if let Some(k) = a.kind.as_ref().filter(|k| !k.is_empty()) {
            if v.pointer("/involvedObject/kind").and_then(Value::as_str) != Some(k) {
                continue;
            }
        }
        if let Some(since) = since {
            if (now - ts).to_std().unwrap_or_default() > since {
                continue;
            }
        }
        items.push((ts, summary("Event", v, call.whole_objects)));
    }
    items.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut items: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    if let Some(limit) = a.limit {
        items.truncate(limit);
    }
    let warnings = items.iter().filter(|e| e["type"] == "Warning").count();
    Ok(json!({ "count": items.len(), "warnings": warnings, "items": items, "cache": cache }))
}

/// One object's events, newest first (for `kube.describe`).
pub(crate) async fn events_of(
    call: &ActionCall,
    cluster: &str,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<Value>, ActionError> {
    let mut c = call.clone();
    c.args = json!({ "cluster": cluster, "namespace": namespace, "kind": kind, "name": name });
    let out = events(c).await?;
    Ok(out["items"].as_array().cloned().unwrap_or_default())
}

async fn rollout_restart(call: ActionCall) -> Result<Value, ActionError> {
    let a: ObjArgs = parse_args(&call.args)?;
    if !["Deployment", "StatefulSet", "DaemonSet"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(&a.kind))
    {
        return Err(ActionError::Invalid(format!(
            "kind '{}' cannot be rollout-restarted; use Deployment, StatefulSet or DaemonSet",
            a.kind
        )));
    }
    let (api, _) = dyn_api(&call, &a.cluster, &a.kind, Some(&a.namespace))?;
    // Stamped with when the call was first issued, so a retry after a lost
    // answer sends the same patch: Kubernetes sees no change and does not
    // roll the workload out a second time.
    let at = call
        .issued_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let patch = json!({ "spec": { "template": { "metadata": { "annotations": {
        "kubectl.kubernetes.io/restartedAt": at } } } } });
    let obj = api
        .patch(&a.name, &dry(&call), &Patch::Merge(&patch))
        .await
        .map_err(from_kube)?;
    let generation = obj.metadata.generation.unwrap_or_default();
    Ok(
        json!({ "name": a.name, "restarted_at": at, "generation": generation, "dry_run": call.dry_run,
        "change": format!("set spec.template.metadata.annotations[kubectl.kubernetes.io/restartedAt]={at}") }),
    )
}

async fn wait_rollout(call: ActionCall) -> Result<Value, ActionError> {
    let a: WaitArgs = parse_args(&call.args)?;
    let limit = match &a.timeout {
        Some(t) => parse_duration("timeout", t)?,
        None => Duration::from_secs(300),
    };
    let (api, _) = dyn_api(&call, &a.cluster, &a.kind, Some(&a.namespace))?;
    let start = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let obj =
            serde_json::to_value(api.get(&a.name).await.map_err(from_kube)?).unwrap_or_default();
        let n = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
        let desired = obj
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let generation = n("/metadata/generation");
        let observed = n("/status/observedGeneration");
        let updated = n("/status/updatedReplicas");
        let ready = n("/status/readyReplicas");
        let total = n("/status/replicas");
        let done =
            observed >= generation && updated >= desired && ready >= desired && total <= desired;
        if done || call.dry_run {
            let elapsed = start.elapsed();
            return Ok(
                json!({ "name": a.name, "ready": ready, "desired": desired, "updated": updated,
                "elapsed": format!("{:.1}s", elapsed.as_secs_f64()), "elapsed_seconds": elapsed.as_secs_f64(),
                "complete": done }),
            );
        }
        if start.elapsed() >= limit {
            return Err(ActionError::Failed(format!(
                "rollout of {} {}/{} not complete after {}: {ready}/{desired} ready, {updated} updated",
                a.kind,
                a.namespace,
                a.name,
                humantime::format_duration(limit)
            )));
        }
        tokio::select! {
            _ = call.cancel.cancelled() => return Err(ActionError::Failed("cancelled while waiting for the rollout".into())),
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

async fn scale(call: ActionCall) -> Result<Value, ActionError> {
    let a: ScaleArgs = parse_args(&call.args)?;
    let replicas = match &a.replicas {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .filter(|n| *n >= 0)
    .ok_or_else(|| {
        ActionError::Invalid(format!(
            "replicas: '{}' is not a whole number >= 0",
            a.replicas
        ))
    })?;
    let (api, _) = dyn_api(&call, &a.cluster, &a.kind, Some(&a.namespace))?;
    let before = api.get_scale(&a.name).await.map_err(from_kube)?;
    let from = before.spec.and_then(|s| s.replicas).unwrap_or(0);
    let patch = json!({ "spec": { "replicas": replicas } });
    api.patch_scale(&a.name, &dry(&call), &Patch::Merge(&patch))
        .await
        .map_err(from_kube)?;
    Ok(
        json!({ "name": a.name, "from": from, "to": replicas, "dry_run": call.dry_run,
        "change": format!("spec.replicas {from} → {replicas}") }),
    )
}

async fn delete(call: ActionCall) -> Result<Value, ActionError> {
    let a: DeleteArgs = parse_args(&call.args)?;
    let (api, _) = dyn_api(&call, &a.cluster, &a.kind, a.namespace.as_deref())?;
    let mut dp = DeleteParams::default();
    if let Some(g) = &a.grace_period {
        dp.grace_period_seconds = Some(parse_duration("grace_period", g)?.as_secs() as u32);
    }
    if call.dry_run {
        dp = dp.dry_run();
    }
    let done = |already: bool| {
        json!({ "name": a.name, "deleted": !call.dry_run, "dry_run": call.dry_run, "already": already,
        "change": format!("delete {} {}", a.kind, a.name) })
    };
    if call.attempt > 1 && !call.dry_run {
        // The earlier try may have deleted it before its answer was lost.
        match api.get_opt(&a.name).await.map_err(from_kube)? {
            None => return Ok(done(true)),
            Some(obj) if created_after(&obj.metadata, call.issued_at) => return Ok(done(true)),
            Some(obj) => {
                // Delete exactly the object just seen, never a successor.
                if let Some(uid) = obj.metadata.uid {
                    dp.preconditions = Some(kube::api::Preconditions {
                        uid: Some(uid),
                        resource_version: None,
                    });
                }
            }
        }
    }
    match api.delete(&a.name, &dp).await {
        Ok(_) => Ok(done(false)),
        Err(kube::Error::Api(e)) if call.attempt > 1 && matches!(e.code, 404 | 409) => {
            Ok(done(true))
        }
        Err(e) => Err(from_kube(e)),
    }
}

/// Whether an object was created after `t`: a successor that took the name
/// of one an earlier try already deleted (a StatefulSet pod, say).
pub(crate) fn created_after(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    t: chrono::DateTime<chrono::Utc>,
) -> bool {
    meta.creation_timestamp.as_ref().is_some_and(|c| {
        let secs = c.0.as_second();
        // Creation stamps have whole seconds: only a later second is sure.
        secs > t.timestamp()
    })
}

async fn cordon(call: ActionCall, on: bool) -> Result<Value, ActionError> {
    let a: NodeArgs = parse_args(&call.args)?;
    let (api, _) = dyn_api(&call, &a.cluster, "Node", None)?;
    let patch = json!({ "spec": { "unschedulable": on } });
    api.patch(&a.name, &dry(&call), &Patch::Merge(&patch))
        .await
        .map_err(from_kube)?;
    Ok(
        json!({ "name": a.name, "unschedulable": on, "dry_run": call.dry_run,
        "change": format!("spec.unschedulable={on}") }),
    )
}

fn age_of(v: &Value, pointer: &str) -> Option<(String, f64)> {
    let t = v.pointer(pointer).and_then(Value::as_str)?;
    let t = chrono::DateTime::parse_from_rfc3339(t).ok()?;
    let d = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .to_std()
        .unwrap_or_default();
    Some((short_age(d), d.as_secs_f64()))
}

/// The template-facing shape of one object; the full object stays under `raw`.
pub fn summarise(kind: &str, v: &Value) -> Value {
    summary(kind, v.clone(), true)
}

/// [`summarise`] taking the object, which goes under `raw` only when
/// `whole` (see `ActionCall::whole_objects`). Without `raw`, the parts the
/// summary keeps are moved out of the object rather than copied: for a
/// list of thousands of pods, copying labels, conditions and container
/// statuses only to drop the originals was a large part of a run.
pub fn summary(kind: &str, v: Value, whole: bool) -> Value {
    let mut src = Source { v, own: !whole };
    let mut out = shape(kind, &mut src);
    if whole {
        out["raw"] = src.v;
    }
    out
}

/// The object a summary is made from.
struct Source {
    v: Value,
    /// Whether the object is dropped after: then [`Source::take`] moves.
    own: bool,
}

impl Source {
    fn peek(&self, pointer: &str) -> Option<&Value> {
        self.v.pointer(pointer)
    }

    /// The value at `pointer` (null when absent), moved out when the
    /// object is not kept. Read anything else at or under `pointer` first.
    fn take(&mut self, pointer: &str) -> Value {
        if self.own {
            self.v
                .pointer_mut(pointer)
                .map(Value::take)
                .unwrap_or(Value::Null)
        } else {
            self.peek(pointer).cloned().unwrap_or(Value::Null)
        }
    }
}

fn shape(kind: &str, src: &mut Source) -> Value {
    let created = age_of(&src.v, "/metadata/creationTimestamp");
    let deleting = age_of(&src.v, "/metadata/deletionTimestamp");
    let terminating = src.peek("/metadata/deletionTimestamp").is_some();
    // The controller that recreates the object (a drain evicts only those).
    let owner = src
        .peek("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|os| os.iter().find(|o| o["controller"] == true).or(os.first()))
        .map(|o| o["kind"].clone())
        .unwrap_or(Value::Null);
    let or_empty = |v: Value| if v.is_null() { json!({}) } else { v };
    let mut out = json!({
        "kind": kind,
        "name": src.take("/metadata/name"),
        "namespace": src.take("/metadata/namespace"),
        "labels": or_empty(src.take("/metadata/labels")),
        "annotations": or_empty(src.take("/metadata/annotations")),
        "created": src.take("/metadata/creationTimestamp"),
        "terminating": terminating,
    });
    if let Some((age, secs)) = created {
        out["age"] = json!(age);
        out["age_seconds"] = json!(secs);
    }
    out["owner"] = owner;
    if let Some((age, secs)) = deleting {
        out["terminating_for"] = json!(age);
        out["terminating_seconds"] = json!(secs);
    }
    let o = out.as_object_mut().expect("object");
    match kind.to_ascii_lowercase().as_str() {
        "pod" => {
            let statuses = match src.take("/status/containerStatuses") {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            let total = src
                .peek("/spec/containers")
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(statuses.len());
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses
                .iter()
                .filter_map(|c| c["restartCount"].as_i64())
                .sum();
            let containers: Vec<Value> = statuses
                .into_iter()
                .map(|mut c| {
                    let (state, mut detail) = match c["state"].take() {
                        Value::Object(m) => match m.into_iter().next() {
                            Some((k, d)) => (Value::String(k), d),
                            None => (Value::Null, Value::Null),
                        },
                        _ => (Value::Null, Value::Null),
                    };
                    let mut last = c["lastState"]["terminated"].take();
                    json!({ "name": c["name"].take(), "ready": c["ready"].take(),
                        "restarts": c["restartCount"].take(), "state": state,
                        "reason": detail["reason"].take(), "message": detail["message"].take(),
                        "last_reason": last["reason"].take(), "last_exit_code": last["exitCode"].take(),
                        "image": c["image"].take() })
                })
                .collect();
            let mut phase = src.take("/status/phase");
            if terminating {
                phase = json!("Terminating");
            }
            o.insert("phase".into(), phase);
            o.insert("node".into(), src.take("/spec/nodeName"));
            o.insert("ready".into(), json!(format!("{ready}/{total}")));
            o.insert("all_ready".into(), json!(total > 0 && ready == total));
            o.insert("restarts".into(), json!(restarts));
            o.insert("containers".into(), json!(containers));
            o.insert("reason".into(), src.take("/status/reason"));
            o.insert("conditions".into(), src.take("/status/conditions"));
        }
        "deployment" | "statefulset" | "replicaset" | "daemonset" => {
            let n = |p: &str| src.peek(p).and_then(Value::as_i64).unwrap_or(0);
            let desired = src
                .peek("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let ready = n("/status/readyReplicas");
            o.insert("desired".into(), json!(desired));
            o.insert("ready_replicas".into(), json!(ready));
            o.insert("updated".into(), json!(n("/status/updatedReplicas")));
            o.insert("available".into(), json!(n("/status/availableReplicas")));
            o.insert("ready".into(), json!(format!("{ready}/{desired}")));
            o.insert("all_ready".into(), json!(ready >= desired));
        }
        "node" => {
            let labels = &o["labels"];
            let pool = [
                "cloud.google.com/gke-nodepool",
                "eks.amazonaws.com/nodegroup",
                "kubernetes.azure.com/agentpool",
                "node.kubernetes.io/instance-type",
            ]
            .iter()
            .find_map(|k| labels.get(*k).cloned())
            .unwrap_or(Value::Null);
            let purpose = labels["hub.jupyter.org/node-purpose"].clone();
            let ready = src
                .peek("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"] == "True")
                .unwrap_or(false);
            let unschedulable = src.peek("/spec/unschedulable") == Some(&json!(true));
            o.insert("pool".into(), pool);
            o.insert("purpose".into(), purpose);
            o.insert("ready".into(), json!(ready));
            o.insert("unschedulable".into(), json!(unschedulable));
            o.insert("allocatable".into(), src.take("/status/allocatable"));
            o.insert("capacity".into(), src.take("/status/capacity"));
            o.insert("taints".into(), src.take("/spec/taints"));
        }
        "event" => {
            let object = format!(
                "{}/{}",
                src.peek("/involvedObject/kind")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                src.peek("/involvedObject/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            );
            let seen = ["/lastTimestamp", "/eventTime", "/firstTimestamp"]
                .iter()
                .find_map(|p| age_of(&src.v, p));
            o.insert("type".into(), src.take("/type"));
            o.insert("reason".into(), src.take("/reason"));
            o.insert("message".into(), src.take("/message"));
            o.insert("count".into(), src.take("/count"));
            o.insert("object".into(), json!(object));
            o.insert("object_name".into(), src.take("/involvedObject/name"));
            if let Some((age, secs)) = seen {
                o.insert("age".into(), json!(age));
                o.insert("age_seconds".into(), json!(secs));
            }
        }
        "persistentvolumeclaim" => {
            o.insert("phase".into(), src.take("/status/phase"));
            o.insert("capacity".into(), src.take("/status/capacity/storage"));
        }
        _ => {
            o.insert("phase".into(), src.take("/status/phase"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_summary_counts_ready_containers_restarts_and_last_termination() {
        let pod = json!({"metadata": {"name": "jupyter-frank", "namespace": "staging",
                "creationTimestamp": "2020-01-01T00:00:00Z", "labels": {"component": "singleuser-server"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "notebook"}, {"name": "sidecar"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "notebook", "ready": false, "restartCount": 4,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}},
                {"name": "sidecar", "ready": true, "restartCount": 1, "state": {"running": {}}}]}});
        let s = summarise("Pod", &pod);
        assert_eq!(s["ready"], "1/2");
        assert_eq!(s["restarts"], 5);
        assert_eq!(s["node"], "n1");
        assert_eq!(s["containers"][0]["reason"], "CrashLoopBackOff");
        assert_eq!(s["containers"][0]["last_reason"], "OOMKilled");
        assert_eq!(s["containers"][0]["last_exit_code"], 137);
        assert!(s["age"].as_str().unwrap().ends_with('d'));
        assert_eq!(s["raw"], pod);
    }

    #[test]
    fn a_summary_that_moves_out_of_the_object_equals_one_that_copies_it() {
        let objects = [
            (
                "Pod",
                json!({"metadata": {"name": "jupyter-a", "namespace": "hub", "labels": {"component": "singleuser-server"},
                "annotations": {"a": "b"}, "creationTimestamp": "2020-01-01T00:00:00Z",
                "ownerReferences": [{"kind": "Node", "controller": true}]},
                "spec": {"nodeName": "n1", "containers": [{"name": "notebook"}]},
                "status": {"phase": "Pending", "reason": "Unschedulable", "conditions": [{"type": "PodScheduled", "status": "False"}],
                    "containerStatuses": [{"name": "notebook", "ready": false, "restartCount": 2, "image": "i",
                        "state": {"waiting": {"reason": "ErrImagePull", "message": "m"}},
                        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}}),
            ),
            (
                "Node",
                json!({"metadata": {"name": "n1", "labels": {"cloud.google.com/gke-nodepool": "user", "hub.jupyter.org/node-purpose": "user"}},
                "spec": {"unschedulable": true, "taints": [{"key": "k"}]},
                "status": {"allocatable": {"cpu": "4"}, "capacity": {"cpu": "4"}, "conditions": [{"type": "Ready", "status": "True"}]}}),
            ),
            (
                "Event",
                json!({"metadata": {"name": "e"}, "type": "Warning", "reason": "FailedScheduling", "message": "0/3 nodes",
                "count": 3, "lastTimestamp": "2020-01-01T00:00:00Z", "involvedObject": {"kind": "Pod", "name": "jupyter-a"}}),
            ),
            (
                "Deployment",
                json!({"metadata": {"name": "hub"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}),
            ),
            (
                "PersistentVolumeClaim",
                json!({"metadata": {"name": "c"}, "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}),
            ),
        ];
        for (kind, v) in objects {
            let mut kept = summary(kind, v.clone(), true);
            assert_eq!(kept["raw"], v, "{kind}: raw is the object untouched");
            kept.as_object_mut().unwrap().remove("raw");
            let (mut moved, mut kept) = (summary(kind, v, false), kept);
            for s in [&mut moved, &mut kept] {
                for age in ["age_seconds", "age", "terminating_seconds"] {
                    s.as_object_mut().unwrap().remove(age);
                }
            }
            assert_eq!(moved, kept, "{kind}");
        }
    }

    #[test]
    fn a_pod_being_deleted_reads_terminating() {
        let pod = json!({"metadata": {"name": "p", "deletionTimestamp": "2020-01-01T00:00:00Z"},
            "status": {"phase": "Running"}});
        assert_eq!(summarise("Pod", &pod)["phase"], "Terminating");
    }

    #[test]
    fn targets_read_like_kubectl_resources() {
        let t = target(
            &json!({"cluster": "aws-us", "namespace": "staging", "kind": "Deployment", "name": "hub"}),
            "patch",
            None,
            None,
        );
        assert_eq!(t.target, "apps/v1 deployments staging/hub @aws-us");
        let t = target(
            &json!({"cluster": "c", "name": "n1"}),
            "patch",
            Some("Node"),
            None,
        );
        assert_eq!(t.target, "v1 nodes n1 @c");
    }

    #[test]
    fn every_kind_maps_to_a_resource_and_unknown_kinds_list_the_known() {
        assert_eq!(
            kind_resource("daskcluster").unwrap().0.api_version,
            "gateway.dask.org/v1alpha1"
        );
        assert!(!kind_resource("Node").unwrap().1);
        let e = kind_resource("Pods").unwrap_err();
        assert!(e.contains("known: Pod, Deployment"), "{e}");
    }
}
