//! The HTTP face of one simulated cluster: authentication, impersonation,
//! authorization, fault injection, discovery, and the REST verbs on every
//! resource (with watch, Table output, subresources and dry runs).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};

use super::cluster::{ClusterState, RecordedRequest};
use super::controller;
use super::patch;
use super::resources::{self, Resource};
use super::seed::{FaultRule, UserSpec};
use super::selector::{FieldSelector, LabelSelector};
use super::status::{self, ApiError};
use super::store::now;
use super::table;

type Shared = Arc<ClusterState>;

/// The router of one cluster's API server.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/sim/faults", post(add_fault).delete(clear_faults))
        .fallback(handle)
        .with_state(state)
}

async fn add_fault(State(st): State<Shared>, Json(rule): Json<FaultRule>) -> StatusCode {
    super::SimCluster { state: st }.add_fault(rule);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(st): State<Shared>) -> StatusCode {
    super::SimCluster { state: st }.clear_faults();
    StatusCode::NO_CONTENT
}

/// What a resource path names.
struct Target {
    res: &'static Resource,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Result<Target, ApiError>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, r, more @ ..] => (Some(ns.to_string()), [&[*r][..], more].concat()),
        other => (None, other.to_vec()),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Some(Err(ApiError::page_not_found())),
    };
    // `/api/v1/namespaces/x` names the namespace itself.
    if rest.is_empty() || (ns.is_some() && plural.is_empty()) {
        return Some(Err(ApiError::page_not_found()));
    }
    let Some(res) = resources::find(group, version, plural) else {
        return Some(Err(ApiError::page_not_found()));
    };
    if let Some(s) = &sub {
        if !res.subresources.iter().any(|x| x.name == s) {
            return Some(Err(ApiError::page_not_found()));
        }
    }
    if ns.is_some() && !res.namespaced {
        return Some(Err(ApiError::page_not_found()));
    }
    Some(Ok(Target { res, ns, name, sub }))
}

fn query_map(q: &str) -> HashMap<String, String> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn json_response(code: StatusCode, v: Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The user behind a token, and whom they act as.
fn authenticate<'a>(st: &'a ClusterState, headers: &HeaderMap) -> Result<(&'a UserSpec, Option<String>), ApiError> {
    let token = bearer(headers).ok_or_else(ApiError::unauthorized)?;
    let user = st
        .users
        .iter()
        .find(|u| u.token.as_deref() == Some(token))
        .ok_or_else(ApiError::unauthorized)?;
    let imp = headers.get("impersonate-user").and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(name) = &imp {
        if !user.impersonate {
            return Err(ApiError::forbidden(&user.name, "impersonate", "users", None, "", None, Some(name)));
        }
    }
    Ok((user, imp))
}

async fn handle(State(st): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    match path.as_str() {
        "/version" | "/version/" => return json_response(StatusCode::OK, resources::version(&st.version)),
        "/healthz" | "/livez" | "/readyz" => return "ok".into_response(),
        _ => {}
    }
    let mut rec = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        verb: String::new(),
        resource: None,
        subresource: None,
        namespace: None,
        name: None,
        user: String::new(),
        impersonated: None,
        status: 200,
        body: serde_json::from_slice(&body).ok(),
    };
    let resp = serve(&st, &method, &path, &query, &headers, &body, &mut rec).await;
    rec.status = resp.status().as_u16();
    st.record(rec);
    resp
}

async fn serve(st: &Shared, method: &Method, path: &str, query: &str, headers: &HeaderMap, body: &[u8], rec: &mut RecordedRequest) -> Response {
    let (user, imp) = match authenticate(st, headers) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    rec.user = user.name.clone();
    rec.impersonated = imp.clone();
    let q = query_map(query);
    // Discovery.
    let discovery = match path.trim_end_matches('/') {
        "/api" => Some(resources::core_versions("127.0.0.1:6443")),
        "/apis" => Some(resources::group_list()),
        "/api/v1" => resources::resource_list("", "v1"),
        p if p.starts_with("/openapi") => return ApiError::page_not_found().into_response(),
        p => {
            let parts: Vec<&str> = p.trim_matches('/').split('/').collect();
            match parts.as_slice() {
                ["apis", g] => Some(resources::group(g).unwrap_or(Value::Null)),
                ["apis", g, v] => Some(resources::resource_list(g, v).unwrap_or(Value::Null)),
                _ => None,
            }
        }
    };
    if let Some(d) = discovery {
        rec.verb = "get".into();
        if d.is_null() {
            return ApiError::page_not_found().into_response();
        }
        return json_response(StatusCode::OK, d);
    }
    let target = match parse_path(path) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return e.into_response(),
        None => return ApiError::page_not_found().into_response(),
    };
    let watching = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (method.as_str(), target.name.is_some(), target.sub.as_deref()) {
        ("GET", false, _) if watching => "watch",
        ("GET", false, _) => "list",
        ("GET", true, _) => "get",
        ("POST", true, Some("eviction")) => "create",
        ("POST", false, _) => "create",
        ("PUT", true, _) => "update",
        ("PATCH", true, _) => "patch",
        ("DELETE", true, None) => "delete",
        ("DELETE", false, None) => "deletecollection",
        _ => return ApiError::method_not_allowed().into_response(),
    };
    let resource_name = match &target.sub {
        Some(s) => format!("{}/{s}", target.res.plural),
        None => target.res.plural.to_string(),
    };
    rec.verb = verb.into();
    rec.resource = Some(target.res.plural.to_string());
    rec.subresource = target.sub.clone();
    rec.namespace = target.ns.clone();
    rec.name = target.name.clone();

    if let Some(f) = st.take_fault(verb, &resource_name, target.ns.as_deref()) {
        if let Some(d) = f.latency {
            tokio::time::sleep(d).await;
        }
        if f.timeout {
            std::future::pending::<()>().await;
        }
        if f.drop {
            let failing = futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault injection")) });
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(failing))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        if let Some(code) = f.status {
            return ApiError::injected(code, f.retry_after).into_response();
        }
    }

    // Authorization as the effective user.
    let effective: UserSpec = match &imp {
        Some(name) => st.users.iter().find(|u| &u.name == name).cloned().unwrap_or(UserSpec {
            name: name.clone(),
            token: None,
            groups: vec![],
            rules: vec![],
            impersonate: false,
        }),
        None => user.clone(),
    };
    let ns_for_rbac = if target.res.namespaced { target.ns.as_deref() } else { None };
    if !effective.rules.iter().any(|r| r.allows(verb, &resource_name, ns_for_rbac)) {
        return ApiError::forbidden(&effective.name, verb, target.res.plural, target.sub.as_deref(), target.res.group, ns_for_rbac, target.name.as_deref()).into_response();
    }

    let table = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"));
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    let result = match verb {
        "list" => list(st, &target, &q, table),
        "watch" => return watch(st.clone(), target, q, table).await,
        "get" => match target.sub.as_deref() {
            Some("log") => return logs(st, &target, &q),
            Some("scale") => scale_get(st, &target),
            _ => get(st, &target, table, &q),
        },
        "create" => match target.sub.as_deref() {
            Some("eviction") => evict(st, &target, dry_run),
            _ => create(st, &target, body, dry_run),
        },
        "update" => update(st, &target, body, dry_run),
        "patch" => {
            let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
            match patch::Kind::from_content_type(ct) {
                Some(kind) => patch_object(st, &target, kind, body, dry_run),
                None => Err(ApiError {
                    code: 415,
                    reason: "UnsupportedMediaType",
                    message: format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {ct:?}"),
                    details: json!({}),
                    retry_after: None,
                }),
            }
        }
        "delete" => delete(st, &target, &q, dry_run),
        "deletecollection" => delete_collection(st, &target, &q, dry_run),
        _ => Err(ApiError::method_not_allowed()),
    };
    match result {
        Ok((code, v)) => json_response(code, v),
        Err(e) => e.into_response(),
    }
}

type Answer = Result<(StatusCode, Value), ApiError>;

fn ns_of(t: &Target) -> &str {
    t.ns.as_deref().unwrap_or("")
}

/// Serve a stored object in the requested version (events.k8s.io is a view).
fn present(res: &Resource, obj: Value) -> Value {
    if res.group == "events.k8s.io" {
        return json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": obj["metadata"],
            "eventTime": obj["eventTime"], "reason": obj["reason"], "note": obj["message"], "type": obj["type"],
            "regarding": obj["involvedObject"], "action": obj["action"],
            "reportingController": obj["reportingComponent"], "reportingInstance": obj["reportingInstance"],
            "deprecatedSource": obj["source"], "deprecatedFirstTimestamp": obj["firstTimestamp"],
            "deprecatedLastTimestamp": obj["lastTimestamp"], "deprecatedCount": obj["count"]
        });
    }
    obj
}

fn selected(q: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or("")).map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or("")).map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

fn list(st: &Shared, t: &Target, q: &HashMap<String, String>, table: bool) -> Answer {
    let (labels, fields) = selected(q)?;
    let store = st.store();
    let rv = store.rv();
    let mut items: Vec<Value> = store
        .list(t.res.store_key(), t.ns.as_deref())
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .map(|o| present(t.res, o))
        .collect();
    drop(store);
    let start: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    let total = items.len();
    items = items.into_iter().skip(start).take(limit).collect();
    let mut meta = json!({ "resourceVersion": rv.to_string() });
    if start + items.len() < total {
        meta["continue"] = json!((start + items.len()).to_string());
        meta["remainingItemCount"] = json!(total - start - items.len());
    }
    if table {
        let include = q.get("includeObject").map(String::as_str).unwrap_or("Metadata");
        let mut t = table::table(t.res.plural, &items, rv, include);
        t["metadata"] = meta;
        return Ok((StatusCode::OK, t));
    }
    Ok((StatusCode::OK, json!({ "kind": format!("{}List", t.res.kind), "apiVersion": t.res.api_version(), "metadata": meta, "items": items })))
}

fn get(st: &Shared, t: &Target, table: bool, q: &HashMap<String, String>) -> Answer {
    let name = t.name.as_deref().unwrap_or_default();
    let store = st.store();
    let obj = store
        .get(t.res.store_key(), ns_of(t), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(t.res.plural, t.res.group, name))?;
    let rv = store.rv();
    drop(store);
    let obj = present(t.res, obj);
    if table {
        let include = q.get("includeObject").map(String::as_str).unwrap_or("Metadata");
        return Ok((StatusCode::OK, table::table(t.res.plural, &[obj], rv, include)));
    }
    Ok((StatusCode::OK, obj))
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .or_else(|_| serde_yaml::from_slice(body))
        .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded: {e}")))
}

fn create(st: &Shared, t: &Target, body: &[u8], dry_run: bool) -> Answer {
    let mut obj = parse_body(body)?;
    if let Some(ns) = &t.ns {
        match obj["metadata"]["namespace"].as_str() {
            Some(n) if n != ns => {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
            }
            _ => obj["metadata"]["namespace"] = json!(ns),
        }
    }
    if obj["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        match obj["metadata"]["generateName"].as_str() {
            Some(g) => obj["metadata"]["name"] = json!(format!("{g}{}", &hex::encode(rand::random::<[u8; 3]>())[..5])),
            None => return Err(ApiError::invalid(t.res.plural, t.res.group, "", "metadata.name: Required value: name or generateName is required")),
        }
    }
    obj["apiVersion"] = json!(t.res.api_version());
    obj["kind"] = json!(t.res.kind);
    controller::apply_defaults(&mut obj);
    let mut store = st.store();
    if let Some(ns) = &t.ns {
        if store.get("namespaces", "", ns).is_none() {
            return Err(ApiError::not_found("namespaces", "", ns));
        }
    }
    if t.res.plural == "pods" && obj["status"].is_null() {
        let nodes = store.list("nodes", None);
        let node = nodes
            .iter()
            .filter(|n| n["spec"]["unschedulable"] != json!(true))
            .find_map(|n| n["metadata"]["name"].as_str().map(str::to_string));
        if obj["spec"]["nodeName"].is_null() {
            if let Some(n) = node {
                obj["spec"]["nodeName"] = json!(n);
            }
        }
        obj["status"] = controller::running_status(&obj);
    }
    if dry_run {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if store.get(t.res.store_key(), ns_of(t), name).is_some() {
            return Err(ApiError::already_exists(t.res.plural, t.res.group, name));
        }
        return Ok((StatusCode::CREATED, obj));
    }
    let created = store.create(t.res.store_key(), t.res.group, obj)?;
    drop(store);
    st.settle();
    Ok((StatusCode::CREATED, present(t.res, created)))
}

fn current(st: &Shared, t: &Target) -> Result<Value, ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    st.store()
        .get(t.res.store_key(), ns_of(t), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(t.res.plural, t.res.group, name))
}

/// A workload's scale subresource.
fn scale_of(obj: &Value) -> Value {
    let selector: Vec<String> = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": { "name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"], "uid": obj["metadata"]["uid"],
                      "resourceVersion": obj["metadata"]["resourceVersion"], "creationTimestamp": obj["metadata"]["creationTimestamp"] },
        "spec": { "replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1) },
        "status": { "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector.join(",") }
    })
}

fn scale_get(st: &Shared, t: &Target) -> Answer {
    let obj = current(st, t)?;
    Ok((StatusCode::OK, scale_of(&obj)))
}

/// Store `next` as the new version of `t`'s object, honouring a subresource.
fn write(st: &Shared, t: &Target, old: &Value, mut next: Value, expected_rv: Option<String>, dry_run: bool) -> Answer {
    let name = t.name.as_deref().unwrap_or_default();
    if next["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(format!("the name of the object ({}) does not match the name on the URL ({name})", next["metadata"]["name"])));
    }
    let result = match t.sub.as_deref() {
        Some("status") => {
            let mut merged = old.clone();
            merged["status"] = next["status"].take();
            merged
        }
        Some("scale") => {
            let mut merged = old.clone();
            let replicas = next["spec"]["replicas"].as_i64().ok_or_else(|| ApiError::invalid(t.res.plural, t.res.group, name, "spec.replicas: Required value"))?;
            if replicas < 0 {
                return Err(ApiError::invalid(t.res.plural, t.res.group, name, "spec.replicas: Invalid value: must be greater than or equal to 0"));
            }
            merged["spec"]["replicas"] = json!(replicas);
            merged
        }
        _ => {
            // The main resource ignores status changes, as the API server does.
            if !old["status"].is_null() {
                next["status"] = old["status"].clone();
            }
            next["metadata"]["namespace"] = old["metadata"]["namespace"].clone();
            next
        }
    };
    if dry_run {
        return Ok((StatusCode::OK, result));
    }
    let mut store = st.store();
    let saved = store.update(t.res.store_key(), t.res.group, result, expected_rv.as_deref())?;
    let finished_terminating = saved["metadata"]["deletionTimestamp"].is_string()
        && saved["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty());
    if finished_terminating {
        store.remove(t.res.store_key(), ns_of(t), name);
    }
    drop(store);
    st.settle();
    let shown = if t.sub.as_deref() == Some("scale") { scale_of(&saved) } else { present(t.res, saved) };
    Ok((StatusCode::OK, shown))
}

fn update(st: &Shared, t: &Target, body: &[u8], dry_run: bool) -> Answer {
    let old = current(st, t)?;
    let next = parse_body(body)?;
    let expected = next["metadata"]["resourceVersion"].as_str().map(str::to_string);
    let next = if t.sub.as_deref() == Some("scale") {
        json!({ "metadata": { "name": old["metadata"]["name"] }, "spec": next["spec"] })
    } else {
        next
    };
    write(st, t, &old, next, expected, dry_run)
}

fn patch_object(st: &Shared, t: &Target, kind: patch::Kind, body: &[u8], dry_run: bool) -> Answer {
    let old = match current(st, t) {
        Ok(o) => o,
        Err(e) if kind == patch::Kind::Apply && e.code == 404 && t.sub.is_none() => {
            return create(st, &Target { res: t.res, ns: t.ns.clone(), name: None, sub: None }, &serde_json::to_vec(&serde_yaml::from_slice::<Value>(body).map_err(|e| ApiError::bad_request(e.to_string()))?).unwrap_or_default(), dry_run);
        }
        Err(e) => return Err(e),
    };
    let base = if t.sub.as_deref() == Some("scale") { scale_of(&old) } else { old.clone() };
    let patched = patch::apply(kind, &base, body).map_err(|m| ApiError {
        code: 422,
        reason: "Invalid",
        message: m,
        details: json!({}),
        retry_after: None,
    })?;
    let next = if t.sub.as_deref() == Some("scale") {
        json!({ "metadata": { "name": old["metadata"]["name"] }, "spec": patched["spec"] })
    } else {
        patched
    };
    write(st, t, &old, next, None, dry_run)
}

/// Delete one object: finalizers keep it Terminating; owned objects follow.
fn delete_one(st: &Shared, res: &Resource, ns: &str, name: &str, q: &HashMap<String, String>, dry_run: bool) -> Result<Value, ApiError> {
    let mut store = st.store();
    let obj = store
        .get(res.store_key(), ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(res.plural, res.group, name))?;
    if dry_run {
        return Ok(obj);
    }
    if obj["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty()) {
        if obj["metadata"]["deletionTimestamp"].is_string() {
            return Ok(obj);
        }
        let mut next = obj.clone();
        next["metadata"]["deletionTimestamp"] = json!(now());
        next["metadata"]["deletionGracePeriodSeconds"] = json!(q.get("gracePeriodSeconds").and_then(|g| g.parse::<i64>().ok()).unwrap_or(30));
        let saved = store.update(res.store_key(), res.group, next, None)?;
        return Ok(saved);
    }
    let removed = store.remove(res.store_key(), ns, name).unwrap_or(obj);
    let orphan = q.get("propagationPolicy").is_some_and(|p| p == "Orphan");
    if !orphan {
        cascade(&mut store, &removed);
    }
    if res.plural == "namespaces" {
        for (r, o) in store.in_namespace(name) {
            store.remove(&r, name, o["metadata"]["name"].as_str().unwrap_or_default());
        }
    }
    Ok(removed)
}

fn cascade(store: &mut super::store::Store, owner: &Value) {
    let Some(uid) = owner["metadata"]["uid"].as_str().map(str::to_string) else { return };
    let ns = owner["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
    for res in ["replicasets", "pods"] {
        for o in store.list(res, Some(&ns)) {
            let owned = o["metadata"]["ownerReferences"].as_array().is_some_and(|r| r.iter().any(|r| r["uid"] == uid.as_str()));
            if owned {
                if let Some(removed) = store.remove(res, &ns, o["metadata"]["name"].as_str().unwrap_or_default()) {
                    cascade(store, &removed);
                }
            }
        }
    }
}

fn delete(st: &Shared, t: &Target, q: &HashMap<String, String>, dry_run: bool) -> Answer {
    let name = t.name.as_deref().unwrap_or_default();
    let obj = delete_one(st, t.res, ns_of(t), name, q, dry_run)?;
    if !dry_run {
        st.settle();
    }
    Ok((StatusCode::OK, present(t.res, obj)))
}

fn delete_collection(st: &Shared, t: &Target, q: &HashMap<String, String>, dry_run: bool) -> Answer {
    let (labels, fields) = selected(q)?;
    let targets: Vec<Value> = st
        .store()
        .list(t.res.store_key(), t.ns.as_deref())
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    let mut items = Vec::new();
    for o in targets {
        let ns = o["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        let name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
        items.push(delete_one(st, t.res, &ns, &name, q, dry_run)?);
    }
    if !dry_run {
        st.settle();
    }
    Ok((StatusCode::OK, json!({ "kind": format!("{}List", t.res.kind), "apiVersion": t.res.api_version(), "metadata": {}, "items": items })))
}

fn evict(st: &Shared, t: &Target, dry_run: bool) -> Answer {
    let name = t.name.as_deref().unwrap_or_default();
    let removed = delete_one(st, t.res, ns_of(t), name, &HashMap::new(), dry_run)?;
    if !dry_run {
        st.settle();
    }
    let uid = removed["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let mut ok = status::success("pods", "", name, &uid);
    ok["code"] = json!(201);
    Ok((StatusCode::CREATED, ok))
}

fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => name.starts_with(pre) && name[pre.len()..].ends_with(post) && name.len() >= pre.len() + post.len(),
    }
}

fn logs(st: &Shared, t: &Target, q: &HashMap<String, String>) -> Response {
    let name = t.name.as_deref().unwrap_or_default();
    let ns = ns_of(t);
    let pod = match st.store().get("pods", ns, name).cloned() {
        Some(p) => p,
        None => return ApiError::not_found("pods", "", name).into_response(),
    };
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match q.get("container") {
        Some(c) if containers.contains(c) => c.clone(),
        Some(c) => return ApiError::bad_request(format!("container {c} is not valid for pod {name}")).into_response(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return ApiError::bad_request(format!("a container name must be specified for pod {name}, choose one of: [{}]", containers.join(" "))).into_response();
        }
    };
    let previous = q.get("previous").is_some_and(|p| p == "true");
    let spec = st
        .logs
        .iter()
        .find(|l| l.namespace == ns && glob(&l.pod, name) && l.container.as_ref().is_none_or(|c| *c == container));
    let text = if previous {
        match spec.and_then(|s| s.previous.clone()) {
            Some(t) => t,
            None => {
                return ApiError::bad_request(format!("previous terminated container \"{container}\" in pod \"{name}\" not found")).into_response();
            }
        }
    } else {
        let waiting = pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == container.as_str())
            .and_then(|c| c["state"]["waiting"]["reason"].as_str().map(str::to_string));
        match (spec, waiting) {
            (Some(s), _) => s.text.clone(),
            (None, Some(reason)) => {
                return ApiError::bad_request(format!("container \"{container}\" in pod \"{name}\" is waiting to start: {}", reason_text(&reason))).into_response();
            }
            (None, None) => String::new(),
        }
    };
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(n) = q.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let skip = lines.len().saturating_sub(n);
        lines = lines.split_off(skip);
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], out).into_response()
}

fn reason_text(reason: &str) -> String {
    match reason {
        "ImagePullBackOff" | "ErrImagePull" => "trying and failing to pull image".into(),
        other => other.into(),
    }
}

async fn watch(st: Shared, t: Target, q: HashMap<String, String>, table: bool) -> Response {
    let (labels, fields) = match selected(&q) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let timeout = q.get("timeoutSeconds").and_then(|s| s.parse::<u64>().ok()).unwrap_or(1800);
    let send_initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let requested_rv: Option<u64> = q.get("resourceVersion").and_then(|v| v.parse().ok()).filter(|v| *v > 0);
    let key = t.res.store_key();
    let (mut rx, initial, start_rv, gone) = {
        let store = st.store();
        let rx = store.subscribe();
        let rv = store.rv();
        match requested_rv {
            Some(from) if !send_initial => {
                if from < store.oldest() {
                    (rx, vec![], rv, Some(from))
                } else {
                    let changes: Vec<(String, Value)> = store.since(key, from).into_iter().map(|c| (c.kind.to_string(), c.object)).collect();
                    (rx, changes, rv, None)
                }
            }
            _ => {
                let all: Vec<(String, Value)> = store.list(key, t.ns.as_deref()).into_iter().map(|o| ("ADDED".to_string(), o)).collect();
                (rx, all, rv, None)
            }
        }
    };
    let res = t.res;
    let ns = t.ns.clone();
    let matches = move |o: &Value| {
        ns.as_deref().is_none_or(|n| o["metadata"]["namespace"].as_str() == Some(n)) && labels.matches(o) && fields.matches(o)
    };
    let encode = move |kind: &str, o: Value| -> Bytes {
        let object = if table { table::table(res.plural, &[present(res, o.clone())], 0, "Object") } else { present(res, o) };
        let mut line = json!({ "type": kind, "object": object }).to_string();
        line.push('\n');
        Bytes::from(line)
    };
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    tokio::spawn(async move {
        if let Some(from) = gone {
            let _ = tx.send(Ok(Bytes::from(json!({ "type": "ERROR", "object": ApiError::gone(from).body() }).to_string() + "\n"))).await;
            return;
        }
        for (kind, o) in initial {
            if matches(&o) && tx.send(Ok(encode(&kind, o))).await.is_err() {
                return;
            }
        }
        if send_initial {
            let bookmark = json!({ "type": "BOOKMARK", "object": { "kind": res.kind, "apiVersion": res.api_version(),
                "metadata": { "resourceVersion": start_rv.to_string(), "annotations": { "k8s.io/initial-events-end": "true" } } } });
            if tx.send(Ok(Bytes::from(bookmark.to_string() + "\n"))).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                change = rx.recv() => match change {
                    Ok(c) => {
                        if c.resource != key || c.rv <= start_rv || !matches(&c.object) {
                            continue;
                        }
                        if tx.send(Ok(encode(c.kind, c.object))).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(Ok(Bytes::from(json!({ "type": "ERROR", "object": ApiError::gone(start_rv).body() }).to_string() + "\n"))).await;
                        return;
                    }
                    Err(_) => return,
                }
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(out).map(|r| r);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
