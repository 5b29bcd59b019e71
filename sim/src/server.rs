//! The HTTP front of one simulated cluster: authentication, impersonation,
//! fault injection, request recording, discovery, and the REST verbs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::auth::{forbidden, UserSpec};
use super::cluster::ClusterState;
use super::discovery::{self, ResourceDef};
use super::faults::FaultRule;
use super::patch::{self, PatchKind};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::{logs, verbs, RecordedRequest};

/// The router of one cluster's API endpoint, plus `/sim/faults`: the
/// control endpoint that adds (`POST`, a [`FaultRule`] as JSON) or clears
/// (`DELETE`) injected faults at run time, for people driving the simulator
/// from a shell. It takes the same bearer tokens as the API; only users who
/// may impersonate (admins) may use it.
pub fn router(state: Arc<ClusterState>) -> Router {
    Router::new()
        .route(
            "/sim/faults",
            axum::routing::post(add_fault).delete(clear_faults),
        )
        .fallback(handle)
        .with_state(state)
}

/// `Some(refusal)` unless the request carries an admin's token.
fn sim_admin(st: &ClusterState, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token.and_then(|t| st.users.by_token(t)) {
        Some(u) if u.impersonate => None,
        Some(u) => Some(
            (
                StatusCode::FORBIDDEN,
                format!("user {} may not change the simulator's faults", u.name),
            )
                .into_response(),
        ),
        None => Some((StatusCode::UNAUTHORIZED, "a bearer token is required").into_response()),
    }
}

async fn add_fault(
    State(st): State<Arc<ClusterState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = sim_admin(&st, &headers) {
        return r;
    }
    match serde_json::from_slice::<FaultRule>(&body) {
        Ok(rule) => {
            st.faults.add(rule);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("not a fault rule: {e}")).into_response(),
    }
}

async fn clear_faults(State(st): State<Arc<ClusterState>>, headers: HeaderMap) -> Response {
    if let Some(r) = sim_admin(&st, &headers) {
        return r;
    }
    st.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// What a resource URL names.
pub struct Target {
    pub def: &'static ResourceDef,
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

impl Target {
    /// The resource as RBAC names it: `pods`, or `pods/eviction` for a
    /// subresource.
    fn resource(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}/{}", self.def.plural, s),
            None => self.def.plural.to_string(),
        }
    }
}

fn parse_target(segs: &[&str]) -> Result<Option<Target>, ApiError> {
    let (group, version, rest) = match segs {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Ok(None),
    };
    if rest.is_empty() {
        return Ok(None);
    }
    let (ns, plural, name, sub) = if rest[0] == "namespaces" && rest.len() >= 3 {
        (Some(rest[1].to_string()), rest[2], rest.get(3), rest.get(4))
    } else {
        (None, rest[0], rest.get(1), rest.get(2))
    };
    if rest.len() > 5 {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    let def = discovery::find(group, version, plural).ok_or_else(|| {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    })?;
    if let Some(s) = sub {
        if !def.subresources.iter().any(|x| x.name == *s) {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
    }
    Ok(Some(Target {
        def,
        ns: if def.namespaced { ns } else { None },
        name: name.map(|s| s.to_string()),
        sub: sub.map(|s| s.to_string()),
    }))
}

fn k8s_verb(method: &Method, t: &Target, q: &HashMap<String, String>) -> &'static str {
    let watching = q.get("watch").is_some_and(|w| w == "1" || w == "true");
    match *method {
        Method::GET if watching => "watch",
        Method::GET if t.name.is_some() => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if t.name.is_some() => "delete",
        Method::DELETE => "deletecollection",
        _ => "unknown",
    }
}

pub(crate) fn json_response(code: u16, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn handle(
    State(st): State<Arc<ClusterState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q: HashMap<String, String> = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let path = uri.path().to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut rec = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or("").to_string(),
        verb: if method == Method::GET {
            "get".into()
        } else {
            method.as_str().to_lowercase()
        },
        ..Default::default()
    };
    if !body.is_empty() {
        rec.body = serde_json::from_slice(&body).ok();
    }
    let resp = match handle_inner(&st, &method, &segs, &q, &headers, &body, &mut rec).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    rec.status = resp.status().as_u16();
    st.record(rec);
    resp
}

/// One API request, after it was recorded: each step below either answers
/// (an error is an answer too) or hands on to the next, in the order a real
/// apiserver applies them.
async fn handle_inner(
    st: &Arc<ClusterState>,
    method: &Method,
    segs: &[&str],
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    rec: &mut RecordedRequest,
) -> Result<Response, ApiError> {
    if let Some(resp) = unauthenticated(st, segs) {
        return Ok(resp);
    }
    let (user, effective) = authenticate(st, headers, rec)?;
    if segs.first() == Some(&"sim") {
        return sim_control(st, &user, method, segs, body);
    }
    if let Some(doc) = discovery_doc(segs) {
        return doc;
    }
    let Some(t) = parse_target(segs)? else {
        return Err(not_found_path());
    };
    let verb = k8s_verb(method, &t, q);
    describe(rec, &t, verb);
    let resource = t.resource();
    inject_fault(st, verb, &resource, t.ns.as_deref(), rec).await?;
    if t.def.plural == "selfsubjectaccessreviews" && verb == "create" {
        return access_review(&effective, body);
    }
    authorize(&effective, verb, &t, &resource)?;
    if t.def.namespaced && t.ns.is_none() && !matches!(verb, "list" | "watch") {
        return Err(not_found_path());
    }
    let call = verbs::Call::new(st, t, q, headers, body);
    if let (Some(name), Some(sub)) = (&call.t.name, &call.t.sub) {
        return subresource(
            st,
            &call.t,
            &call.ns,
            name,
            sub,
            method,
            q,
            headers,
            body,
            call.dry_run,
        )
        .await;
    }
    verbs::serve(call, verb)
}

/// Health and version: answered without credentials, as on a default
/// apiserver.
fn unauthenticated(st: &ClusterState, segs: &[&str]) -> Option<Response> {
    match segs {
        ["healthz"] | ["livez"] | ["readyz"] => Some((StatusCode::OK, "ok").into_response()),
        ["version"] => Some(json_response(200, &discovery::version_doc(&st.version))),
        _ => None,
    }
}

/// The bearer token's user and the user the request acts as (the same
/// unless it impersonates, which only users allowed to may do). Records
/// both.
fn authenticate(
    st: &ClusterState,
    headers: &HeaderMap,
    rec: &mut RecordedRequest,
) -> Result<(UserSpec, UserSpec), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(user) = token.and_then(|t| st.users.by_token(t)).cloned() else {
        rec.user = "system:anonymous".into();
        return Err(ApiError::unauthorized());
    };
    rec.user = user.name.clone();
    let Some(imp) = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok((user.clone(), user));
    };
    if !user.impersonate {
        return Err(forbidden(
            &user.name,
            "impersonate",
            "",
            "users",
            Some(imp),
            None,
        ));
    }
    rec.impersonated = Some(imp.to_string());
    let mut effective = st.users.by_name(imp);
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect();
    if !groups.is_empty() {
        effective.groups = groups;
    }
    Ok((user, effective))
}

/// `/sim/faults` under the API prefix: admins add (`POST`) or clear
/// (`DELETE`) injected faults.
fn sim_control(
    st: &ClusterState,
    user: &UserSpec,
    method: &Method,
    segs: &[&str],
    body: &Bytes,
) -> Result<Response, ApiError> {
    if !user.allows("*", "*", None) {
        return Err(forbidden(&user.name, "update", "", "sim", None, None));
    }
    match (method, segs) {
        (&Method::POST, ["sim", "faults"]) => {
            let rules = fault_rules(body)?;
            let n = rules.len();
            rules.into_iter().for_each(|r| st.faults.add(r));
            Ok(json_response(200, &json!({"added": n})))
        }
        (&Method::DELETE, ["sim", "faults"]) => {
            st.faults.clear();
            Ok(json_response(200, &json!({"cleared": true})))
        }
        _ => Err(not_found_path()),
    }
}

/// One fault rule or a list of them, as JSON.
fn fault_rules(body: &Bytes) -> Result<Vec<FaultRule>, ApiError> {
    let invalid = |e: serde_json::Error| ApiError::bad_request(format!("invalid fault rule: {e}"));
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(a)) => a
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .map_err(invalid),
        Ok(v) => Ok(vec![serde_json::from_value(v).map_err(invalid)?]),
        Err(e) => Err(ApiError::bad_request(format!(
            "expected a JSON fault rule or list of rules: {e}"
        ))),
    }
}

/// The discovery documents (`/api`, `/apis`, `/apis/GROUP[/VERSION]`), or
/// `None` when the path names resources.
fn discovery_doc(segs: &[&str]) -> Option<Result<Response, ApiError>> {
    let doc = match segs {
        ["api"] => Some(discovery::core_versions()),
        ["apis"] => Some(discovery::group_list()),
        ["api", v] => discovery::resource_list("", v),
        ["apis", g] => discovery::group(g),
        ["apis", g, v] => discovery::resource_list(g, v),
        [first, ..] if first.starts_with("openapi") => None,
        _ => return None,
    };
    Some(
        doc.map(|d| json_response(200, &d))
            .ok_or_else(not_found_path),
    )
}

/// What the request addressed, for the request log.
fn describe(rec: &mut RecordedRequest, t: &Target, verb: &str) {
    rec.verb = verb.to_string();
    rec.resource = Some(t.def.plural.to_string());
    rec.subresource = t.sub.clone();
    rec.namespace = t.ns.clone();
    rec.name = t.name.clone();
}

/// Applies the first matching injected fault: latency, then a hang, a
/// dropped connection or an error status.
async fn inject_fault(
    st: &ClusterState,
    verb: &str,
    resource: &str,
    ns: Option<&str>,
    rec: &RecordedRequest,
) -> Result<(), ApiError> {
    // A dry run says so in the query (create, patch) or, for a delete, in
    // its DeleteOptions body.
    let dry_run = rec.query.split('&').any(|kv| kv == "dryRun=All")
        || rec.body.as_ref().is_some_and(|b| {
            b["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|v| v == "All"))
        });
    let Some(rule) = st.faults.take(verb, resource, ns, dry_run) else {
        return Ok(());
    };
    if let Some(d) = rule.latency {
        tokio::time::sleep(d).await;
    }
    if rule.timeout || rule.drop {
        // These never produce an answer: record the request now (status 0).
        st.record(RecordedRequest {
            status: 0,
            ..rec.clone()
        });
    }
    if rule.timeout {
        std::future::pending::<()>().await;
    }
    if rule.drop {
        // Unwinding the connection task closes the socket without an answer;
        // resume_unwind skips the panic hook, so nothing is printed.
        std::panic::resume_unwind(Box::new("sim: injected connection drop"));
    }
    match rule.status {
        Some(code) => {
            let mut e = injected_status(code);
            e.retry_after = rule.retry_after;
            Err(e)
        }
        None => Ok(()),
    }
}

/// The error a real apiserver answers with this status code.
fn injected_status(code: u16) -> ApiError {
    let reason = match code {
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    };
    let msg = match code {
        429 => "Too many requests, please try again later.".to_string(),
        503 => "the server is currently unable to handle the request".to_string(),
        _ => {
            "an error on the server (\"injected fault\") has prevented the request from succeeding"
                .to_string()
        }
    };
    ApiError::new(code, reason, msg)
}

/// `kubectl auth can-i`: every user may ask about themselves.
fn access_review(effective: &UserSpec, body: &Bytes) -> Result<Response, ApiError> {
    let mut review: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid SelfSubjectAccessReview: {e}")))?;
    let a = review
        .pointer("/spec/resourceAttributes")
        .cloned()
        .unwrap_or(Value::Null);
    let field = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut res = field("resource");
    if !field("subresource").is_empty() {
        res = format!("{res}/{}", field("subresource"));
    }
    let ns = field("namespace");
    let allowed = !res.is_empty()
        && effective.allows(
            &field("verb"),
            &res,
            (!ns.is_empty()).then_some(ns.as_str()),
        );
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    review["status"] = if allowed {
        json!({"allowed": true, "reason": "allowed by simulated RBAC rules"})
    } else {
        json!({"allowed": false})
    };
    Ok(json_response(201, &review))
}

/// Simulated RBAC. kubectl sends `create` for the eviction subresource; it
/// is authorized as `pods/eviction`.
fn authorize(effective: &UserSpec, verb: &str, t: &Target, resource: &str) -> Result<(), ApiError> {
    if effective.allows(verb, resource, t.ns.as_deref()) {
        return Ok(());
    }
    Err(forbidden(
        &effective.name,
        verb,
        t.def.group,
        resource,
        t.name.as_deref(),
        t.ns.as_deref(),
    ))
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

pub(crate) fn selector(q: &HashMap<String, String>) -> Result<LabelSelector, ApiError> {
    LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)
}

pub(crate) fn field_selector(q: &HashMap<String, String>) -> Result<FieldSelector, ApiError> {
    FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)
}

/// Filtered, paged list: (items, rv, continue token, remaining count).
pub(crate) fn list(
    st: &ClusterState,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<(Vec<Value>, u64, Option<String>, usize), ApiError> {
    let label = selector(q)?;
    let field = field_selector(q)?;
    let after = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            String::from_utf8(hex::decode(c).map_err(|_| bad_continue())?)
                .map_err(|_| bad_continue())?,
        ),
        None => None,
    };
    // The token is "namespace\0name" of the page's last object.
    let after = match after.as_deref() {
        Some(a) => Some(a.split_once('\u{0}').ok_or_else(bad_continue)?),
        None => None,
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let page = st
        .store
        .list_page(t.def.store_key(), t.ns.as_deref(), after, limit, |o| {
            label.matches(o) && field.matches(o)
        });
    let items: Vec<Value> = page.items.into_iter().map(|o| present(t.def, o)).collect();
    if page.remaining > 0 {
        let token = hex::encode(item_key(items.last().unwrap_or(&Value::Null)));
        return Ok((items, page.rv, Some(token), page.remaining));
    }
    Ok((items, page.rv, None, 0))
}

fn bad_continue() -> ApiError {
    ApiError::bad_request("continue key is not valid: the continue token could not be decoded; start the list again without `continue`")
}

fn item_key(o: &Value) -> String {
    format!(
        "{}\u{0}{}",
        o.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(""),
        o.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    )
}

/// The object as this resource's API version shows it: events are one
/// store, shown as `events.k8s.io/v1` (note, regarding) or core `v1`
/// (message, involvedObject) whichever way they were written, as an
/// apiserver does.
pub fn present(def: &ResourceDef, o: Value) -> Value {
    if def.group.is_empty() && def.kind == "Event" && o["apiVersion"] == "events.k8s.io/v1" {
        return core_event(o);
    }
    if def.group != "events.k8s.io" || o["apiVersion"] != "v1" {
        return o;
    }
    json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": o["metadata"],
        "eventTime": o.get("eventTime").cloned().unwrap_or(Value::Null),
        "reason": o["reason"],
        "note": o["message"],
        "type": o["type"],
        "regarding": o["involvedObject"],
        "reportingController": o.pointer("/source/component").cloned().unwrap_or(json!("")),
        "reportingInstance": o.get("reportingInstance").cloned().unwrap_or(json!("")),
        "action": o.get("action").cloned().unwrap_or(json!("")),
        "deprecatedCount": o["count"],
        "deprecatedFirstTimestamp": o["firstTimestamp"],
        "deprecatedLastTimestamp": o["lastTimestamp"],
        "deprecatedSource": o["source"],
    })
}

/// An `events.k8s.io/v1` Event as core `v1` shows it.
fn core_event(o: Value) -> Value {
    let pick = |new: &str, old: &str| {
        o.get(new)
            .filter(|v| !v.is_null())
            .or_else(|| o.get(old))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let source = o.get("deprecatedSource").cloned().unwrap_or_else(
        || json!({ "component": o.get("reportingController").cloned().unwrap_or(json!("")) }),
    );
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": o["metadata"],
        "involvedObject": pick("regarding", "involvedObject"),
        "reason": o["reason"],
        "message": pick("note", "message"),
        "type": o["type"],
        "count": o.pointer("/series/count").or_else(|| o.get("deprecatedCount")).cloned().unwrap_or(json!(1)),
        "firstTimestamp": o.get("deprecatedFirstTimestamp").cloned().unwrap_or(Value::Null),
        "lastTimestamp": o.pointer("/series/lastObservedTime").or_else(|| o.get("deprecatedLastTimestamp")).cloned().unwrap_or(Value::Null),
        "eventTime": o.get("eventTime").cloned().unwrap_or(Value::Null),
        "source": source,
        "reportingComponent": o.get("reportingController").cloned().unwrap_or(json!("")),
        "reportingInstance": o.get("reportingInstance").cloned().unwrap_or(json!("")),
        "action": o.get("action").cloned().unwrap_or(json!("")),
    })
}

pub(crate) fn delete_options(
    q: &HashMap<String, String>,
    body: &Bytes,
) -> (Option<i64>, String, bool) {
    let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let grace = q
        .get("gracePeriodSeconds")
        .and_then(|g| g.parse().ok())
        .or_else(|| b["gracePeriodSeconds"].as_i64());
    let prop = q
        .get("propagationPolicy")
        .cloned()
        .or_else(|| b["propagationPolicy"].as_str().map(String::from))
        .unwrap_or_else(|| "Background".into());
    let dry = b["dryRun"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == "All"));
    (grace, prop, dry)
}

/// Delete dependents (owned by `uid`) in the namespace, recursively.
pub(crate) fn cascade(st: &ClusterState, ns: &str, uid: &str) {
    if uid.is_empty() || ns.is_empty() {
        return;
    }
    for plural in ["replicasets", "pods", "controllerrevisions"] {
        let Some(def) = discovery::RESOURCES.iter().find(|r| r.plural == plural) else {
            continue;
        };
        let (items, _) = st.store.list(plural, Some(ns));
        for o in items {
            let owned = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|r| r["uid"] == uid));
            if owned {
                let name = o["metadata"]["name"].as_str().unwrap_or("");
                if let Ok(d) = st.store.delete(def, ns, name, None, false) {
                    cascade(st, ns, d["metadata"]["uid"].as_str().unwrap_or(""));
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn subresource(
    st: &Arc<ClusterState>,
    t: &Target,
    ns: &str,
    name: &str,
    sub: &str,
    method: &Method,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    dry_run: bool,
) -> Result<Response, ApiError> {
    let def = t.def;
    let obj = st
        .store
        .get(def.store_key(), ns, name)
        .ok_or_else(|| ApiError::not_found(def.group, def.plural, name))?;
    match (sub, method) {
        ("log", &Method::GET) => logs_response(st, ns, name, &obj, q),
        ("eviction", &Method::POST) => {
            if let Some(pdb) = blocking_budget(st, ns, &obj) {
                let mut e = ApiError::new(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                );
                e.details = Some(
                    json!({"causes": [{"reason": "DisruptionBudget", "message": format!("The disruption budget {pdb} needs {} healthy pods and has {} currently", 
                    st.store.get("poddisruptionbudgets", ns, &pdb).and_then(|p| p.pointer("/status/desiredHealthy").and_then(Value::as_i64)).unwrap_or(0),
                    st.store.get("poddisruptionbudgets", ns, &pdb).and_then(|p| p.pointer("/status/currentHealthy").and_then(Value::as_i64)).unwrap_or(0))}]}),
                );
                return Err(e);
            }
            if obj.pointer("/metadata/deletionTimestamp").is_none() {
                st.store.delete(def, ns, name, None, dry_run)?;
            }
            Ok(json_response(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        ("scale", &Method::GET) => Ok(json_response(200, &scale_of(&obj))),
        ("scale", &Method::PUT) | ("scale", &Method::PATCH) => {
            let mut scale = scale_of(&obj);
            if method == Method::PUT {
                scale = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid Scale: {e}")))?;
            } else {
                let kind = PatchKind::from_content_type(
                    headers
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                )?;
                patch::apply(&mut scale, kind, body)?;
            }
            let Some(replicas) = scale.pointer("/spec/replicas").and_then(Value::as_i64) else {
                return Err(ApiError::invalid(
                    "Scale",
                    name,
                    "spec.replicas",
                    "Required value",
                ));
            };
            if replicas < 0 {
                return Err(ApiError::invalid(
                    "Scale",
                    name,
                    "spec.replicas",
                    &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                ));
            }
            let mut updated = obj.clone();
            updated["spec"]["replicas"] = json!(replicas);
            if let Some(rv) = scale
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
            {
                updated["metadata"]["resourceVersion"] = json!(rv);
            }
            let out = st.store.update(def, ns, name, updated, dry_run)?;
            Ok(json_response(200, &scale_of(&out)))
        }
        ("status", &Method::GET) => Ok(json_response(200, &obj)),
        ("status", &Method::PUT) | ("status", &Method::PATCH) => {
            let mut new = obj.clone();
            if method == Method::PUT {
                new = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid object: {e}")))?;
            } else {
                let kind = PatchKind::from_content_type(
                    headers
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                )?;
                patch::apply(&mut new, kind, body)?;
            }
            let mut updated = obj.clone();
            updated["status"] = new["status"].clone();
            if let Some(rv) = new.pointer("/metadata/resourceVersion") {
                updated["metadata"]["resourceVersion"] = rv.clone();
            }
            let out = st.store.update(def, ns, name, updated, dry_run)?;
            Ok(json_response(200, &out))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn scale_of(obj: &Value) -> Value {
    let sel = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"], "uid": obj["metadata"]["uid"],
            "resourceVersion": obj["metadata"]["resourceVersion"], "creationTimestamp": obj["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": sel},
    })
}

fn logs_response(
    st: &ClusterState,
    ns: &str,
    name: &str,
    pod: &Value,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let container = match q.get("container") {
        Some(c) => {
            if !containers.contains(c) {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            c.clone()
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let previous = q.get("previous").is_some_and(|p| p == "true");
    let text = match logs::find(&st.logs, ns, name, &container, previous) {
        Some(t) => t.to_string(),
        None if previous => {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        None => {
            let waiting = pod
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|c| c["name"] == container.as_str()))
                .and_then(|c| c.pointer("/state/waiting/reason"))
                .and_then(Value::as_str)
                .map(String::from);
            if let Some(reason) = waiting {
                return Err(ApiError::bad_request(format!(
                    "container \"{container}\" in pod \"{name}\" is waiting to start: {}",
                    reason_text(&reason)
                )));
            }
            if pod.pointer("/spec/nodeName").is_none() {
                return Err(ApiError::bad_request(format!("container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating")));
            }
            String::new()
        }
    };
    let query = logs::LogQuery {
        tail_lines: q.get("tailLines").and_then(|t| t.parse().ok()),
        since_seconds: q.get("sinceSeconds").and_then(|t| t.parse().ok()),
        timestamps: q.get("timestamps").is_some_and(|t| t == "true"),
    };
    let out = logs::render(&text, query);
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(out))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

fn reason_text(reason: &str) -> String {
    match reason {
        "ImagePullBackOff" | "ErrImagePull" => "trying and failing to pull image".to_string(),
        other => other.to_string(),
    }
}

/// The name of a PodDisruptionBudget that selects this pod and allows no disruption.
fn blocking_budget(st: &ClusterState, ns: &str, pod: &Value) -> Option<String> {
    let (pdbs, _) = st.store.list("poddisruptionbudgets", Some(ns));
    pdbs.into_iter().find_map(|pdb| {
        let labels = pdb
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)?;
        let selects = labels
            .iter()
            .all(|(k, v)| pod.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v));
        let allowed = pdb
            .pointer("/status/disruptionsAllowed")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        (selects && allowed < 1).then(|| {
            pdb.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
    })
}
