//! The REST verbs on a resource collection or object (`get`, `list`,
//! `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`), once
//! the request is authenticated, authorized and its fault rules applied.
//!
//! Each verb is one function over a [`Call`]: the request's target and the
//! options every verb reads the same way.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use serde_json::{json, Value};

use super::cluster::ClusterState;
use super::patch::{self, PatchKind};
use super::server::{
    cascade, delete_options, field_selector, json_response, list, present, selector, Target,
};
use super::status::ApiError;
use super::{controller, table, watch};

/// One authorized request on a resource, with its options read once.
pub(crate) struct Call<'a> {
    pub st: &'a Arc<ClusterState>,
    pub t: Target,
    /// The namespace in the path, or `""` for cluster-scoped requests.
    pub ns: String,
    pub q: &'a HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    /// `?dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `Accept: ...;as=Table`, as `kubectl get` asks.
    pub as_table: bool,
    /// `?includeObject=` for tables (default `Metadata`).
    pub include_object: String,
}

impl<'a> Call<'a> {
    pub fn new(
        st: &'a Arc<ClusterState>,
        t: Target,
        q: &'a HashMap<String, String>,
        headers: &'a HeaderMap,
        body: &'a Bytes,
    ) -> Call<'a> {
        let as_table = headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("as=Table"));
        Call {
            st,
            ns: t.ns.clone().unwrap_or_default(),
            t,
            q,
            headers,
            body,
            dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
            as_table,
            include_object: q
                .get("includeObject")
                .map(String::as_str)
                .unwrap_or("Metadata")
                .to_string(),
        }
    }

    /// The object name in the path (`""` for a collection).
    fn name(&self) -> &str {
        self.t.name.as_deref().unwrap_or("")
    }
}

/// Runs `verb` (as [`super::server`] derived it from the method and path).
pub(crate) fn serve(call: Call<'_>, verb: &str) -> Result<Response, ApiError> {
    match verb {
        "get" => get(&call),
        "list" => list_objects(&call),
        "watch" => watch_objects(call),
        "create" => create(&call),
        "update" => update(&call),
        "patch" => patch_object(&call),
        "delete" => delete(&call),
        "deletecollection" => delete_collection(&call),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A body that must be JSON.
fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request could not be decoded as JSON: {e}"
        ))
    })
}

fn get(c: &Call<'_>) -> Result<Response, ApiError> {
    let (t, st, ns, name) = (&c.t, c.st, c.ns.as_str(), c.name());
    if t.def.namespaced
        && !ns.is_empty()
        && t.def.plural != "namespaces"
        && st.store.get("namespaces", "", ns).is_none()
        && st.store.get(t.def.store_key(), ns, name).is_none()
    {
        return Err(ApiError::not_found(t.def.group, t.def.plural, name));
    }
    let obj = st
        .store
        .get(t.def.store_key(), ns, name)
        .ok_or_else(|| ApiError::not_found(t.def.group, t.def.plural, name))?;
    let obj = present(t.def, obj);
    if c.as_table {
        let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"].clone()});
        return Ok(json_response(
            200,
            &table::table(t.def, &[obj], meta, &c.include_object),
        ));
    }
    Ok(json_response(200, &obj))
}

fn list_objects(c: &Call<'_>) -> Result<Response, ApiError> {
    let t = &c.t;
    let (items, rv, cont, remaining) = list(c.st, t, c.q)?;
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(cont) = cont {
        meta["continue"] = json!(cont);
        meta["remainingItemCount"] = json!(remaining);
    }
    if c.as_table {
        return Ok(json_response(
            200,
            &table::table(t.def, &items, meta, &c.include_object),
        ));
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", t.def.kind), "apiVersion": t.def.api_version(), "metadata": meta, "items": items}),
    ))
}

fn watch_objects(c: Call<'_>) -> Result<Response, ApiError> {
    let label = selector(c.q)?;
    let field = field_selector(c.q)?;
    Ok(watch::serve(
        c.st.store.clone(),
        c.t.def,
        c.t.ns.clone(),
        label,
        field,
        c.q,
        c.as_table,
        c.include_object,
    ))
}

fn create(c: &Call<'_>) -> Result<Response, ApiError> {
    let (t, st, ns) = (&c.t, c.st, c.ns.as_str());
    let mut obj = json_body(c.body)?;
    controller::default_fields(t.def, &mut obj);
    if t.def.namespaced {
        if let Some(bns) = obj.pointer("/metadata/namespace").and_then(Value::as_str) {
            if bns != ns {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
            }
        }
        if st.store.get("namespaces", "", ns).is_none() && t.def.plural != "events" {
            return Err(ApiError::not_found("", "namespaces", ns));
        }
    }
    let out = st.store.create(t.def, ns, obj, c.dry_run)?;
    Ok(json_response(201, &present(t.def, out)))
}

fn update(c: &Call<'_>) -> Result<Response, ApiError> {
    let obj = json_body(c.body)?;
    let out =
        c.st.store
            .update(c.t.def, &c.ns, c.name(), obj, c.dry_run)?;
    Ok(json_response(200, &present(c.t.def, out)))
}

/// JSON, merge and strategic-merge patches; server-side apply creates the
/// object when it does not exist yet.
fn patch_object(c: &Call<'_>) -> Result<Response, ApiError> {
    let (t, st, ns, name) = (&c.t, c.st, c.ns.as_str(), c.name());
    let kind = PatchKind::from_content_type(
        c.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    )?;
    let mut obj = match st.store.get(t.def.store_key(), ns, name) {
        Some(o) => o,
        None if kind == PatchKind::Apply => {
            let obj: Value = serde_yaml::from_slice(c.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            let out = st.store.create(t.def, ns, obj, c.dry_run)?;
            return Ok(json_response(201, &present(t.def, out)));
        }
        None => return Err(ApiError::not_found(t.def.group, t.def.plural, name)),
    };
    let rv = obj["metadata"]["resourceVersion"].clone();
    patch::apply(&mut obj, kind, c.body)?;
    // A patch applies to the current version unless it names one itself.
    if obj["metadata"]["resourceVersion"].is_null() {
        obj["metadata"]["resourceVersion"] = rv;
    }
    let out = st.store.update(t.def, ns, name, obj, c.dry_run)?;
    Ok(json_response(200, &present(t.def, out)))
}

/// Deletes one object and, unless orphaning, what it owns.
fn delete(c: &Call<'_>) -> Result<Response, ApiError> {
    let (grace, propagation, body_dry) = delete_options(c.q, c.body);
    let dry_run = c.dry_run || body_dry;
    let out =
        c.st.store
            .delete(c.t.def, &c.ns, c.name(), grace, dry_run)?;
    if !dry_run && propagation != "Orphan" {
        cascade(c.st, &c.ns, out["metadata"]["uid"].as_str().unwrap_or(""));
    }
    Ok(json_response(200, &present(c.t.def, out)))
}

/// Deletes every object the selectors match (all pages: `limit` is ignored).
fn delete_collection(c: &Call<'_>) -> Result<Response, ApiError> {
    let t = &c.t;
    let unpaged: HashMap<String, String> =
        c.q.iter()
            .filter(|(k, _)| k.as_str() != "limit")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    let (items, _, _, _) = list(c.st, t, &unpaged)?;
    let (grace, _, body_dry) = delete_options(c.q, c.body);
    let mut deleted = Vec::new();
    for it in items {
        let n = it["metadata"]["name"].as_str().unwrap_or("");
        let ins = it["metadata"]["namespace"].as_str().unwrap_or("");
        if let Ok(o) =
            c.st.store
                .delete(t.def, ins, n, grace, c.dry_run || body_dry)
        {
            deleted.push(o);
        }
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", t.def.kind), "apiVersion": t.def.api_version(), "metadata": {"resourceVersion": c.st.store.rv().to_string()}, "items": deleted}),
    ))
}
