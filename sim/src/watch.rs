//! Watch streams: newline-delimited `{"type","object"}` events from a
//! resourceVersion, with `timeoutSeconds` and 410 Expired for compacted history.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::discovery::ResourceDef;
use super::selector::{FieldSelector, LabelSelector};
use super::server::present;
use super::store::{Change, Store};
use super::table;

fn expired(rv: u64) -> Value {
    json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("too old resource version: {rv}"), "reason": "Expired", "code": 410}})
}

/// Start a watch and return its streaming response.
#[allow(clippy::too_many_arguments)]
pub fn serve(
    store: Store,
    def: &'static ResourceDef,
    ns: Option<String>,
    label: LabelSelector,
    field: FieldSelector,
    q: &HashMap<String, String>,
    as_table: bool,
    include_object: String,
) -> Response {
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    let matches = move |res: &str, obj_ns: &str, obj: &Value| {
        res == def.store_key()
            && ns.as_deref().is_none_or(|n| n == obj_ns)
            && label.matches(obj)
            && field.matches(obj)
    };
    // The event type this watcher sees for a change (None: not its business).
    let m = matches.clone();
    let decide = move |c: &Change| -> Option<&'static str> {
        let now = m(&c.resource, &c.namespace, &c.object);
        let was = c
            .old
            .as_ref()
            .map(|o| m(&c.resource, &c.namespace, o))
            .unwrap_or(now);
        match (c.kind, was, now) {
            ("MODIFIED", true, true) => Some("MODIFIED"),
            ("MODIFIED", false, true) => Some("ADDED"),
            ("MODIFIED", true, false) => Some("DELETED"),
            (_, _, false) => None,
            (kind, _, true) => Some(kind),
        }
    };
    let render = move |kind: &str, obj: Value| -> Bytes {
        let obj = present(def, obj);
        let obj = if as_table && kind != "BOOKMARK" {
            let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"].clone()});
            table::table(def, &[obj], meta, &include_object)
        } else {
            obj
        };
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": obj})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    };
    tokio::spawn(async move {
        let work = async {
            let (since, initial) = match rv_param.as_str() {
                "" | "0" => {
                    let (items, rv) = store.list(def.store_key(), None);
                    (rv, items)
                }
                s => match s.parse::<u64>() {
                    Ok(rv) => (rv, Vec::new()),
                    Err(_) => {
                        let _ = tx
                            .send(Ok(render("ERROR", expired(0)["object"].clone())))
                            .await;
                        return;
                    }
                },
            };
            let (mut sub, past) = store.watch_from(since);
            let Some(past) = past else {
                let mut line = serde_json::to_vec(&expired(since)).unwrap_or_default();
                line.push(b'\n');
                let _ = tx.send(Ok(Bytes::from(line))).await;
                return;
            };
            for obj in initial {
                let ons = obj
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if matches(def.store_key(), &ons, &obj)
                    && tx.send(Ok(render("ADDED", obj))).await.is_err()
                {
                    return;
                }
            }
            let mut last = since;
            for c in past {
                last = c.rv;
                if let Some(kind) = decide(&c) {
                    if tx.send(Ok(render(kind, c.object.clone()))).await.is_err() {
                        return;
                    }
                }
            }
            if bookmarks {
                let bm = json!({"kind": def.kind, "apiVersion": def.api_version(), "metadata": {"resourceVersion": last.max(since).to_string()}});
                if tx.send(Ok(render("BOOKMARK", bm))).await.is_err() {
                    return;
                }
            }
            loop {
                // End as soon as the client goes away, not at the next change.
                let next = tokio::select! {
                    n = sub.recv() => n,
                    _ = tx.closed() => return,
                };
                match next {
                    Ok(c) => {
                        if c.rv <= last {
                            continue;
                        }
                        last = c.rv;
                        if let Some(kind) = decide(&c) {
                            if tx.send(Ok(render(kind, c.object.clone()))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let mut line = serde_json::to_vec(&expired(last)).unwrap_or_default();
                        line.push(b'\n');
                        let _ = tx.send(Ok(Bytes::from(line))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        };
        let _ = tokio::time::timeout(timeout, work).await;
    });
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_default()
}
