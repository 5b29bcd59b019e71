//! `http.get`: read an HTTP endpoint (a hub's health URL, a status page)
//! with reqwest; the output carries the status and the body as JSON when it
//! parses, else as text.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{check_args, parse_args, parse_duration, ActionCall, ActionError, ActionSpec, Target};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Fail the step unless the status is this one (default: any 2xx).
    #[serde(default)]
    expect_status: Option<Value>,
    #[serde(default)]
    timeout: Option<String>,
}

/// Every `http.*` step kind.
pub fn actions() -> Vec<ActionSpec> {
    vec![ActionSpec {
        name: "http.get",
        mutates: false,
        idempotent: false,
        check: |v| {
            check_args::<GetArgs>(v)?;
            // Names typed by people reach the URL only as one encoded
            // segment each, never as raw path text.
            let url = v.get("url").and_then(Value::as_str).unwrap_or("");
            let bad = crate::urlpath::unencoded_in_url(url);
            if bad.is_empty() {
                Ok(())
            } else {
                // (No braces in the message: the loader reads those as a
                // value still to be rendered.)
                Err(format!(
                    "url: {} would go into the URL unencoded, so a value could add or climb path segments; pipe it through the segment filter (`{} | segment`), or use a variable that is itself a URL, such as hub.url",
                    bad.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", "),
                    bad[0]
                ))
            }
        },
        permissions: |_| Vec::new(),
        describe: |a| Target {
            verb: "GET".into(),
            // The query may hold a token: never show it.
            target: redact(a.get("url").and_then(Value::as_str).unwrap_or("")),
        },
        run: Arc::new(|c| Box::pin(get(c))),
    }]
}

async fn get(call: ActionCall) -> Result<Value, ActionError> {
    let a: GetArgs = parse_args(&call.args)?;
    let timeout = match &a.timeout {
        Some(t) => parse_duration("timeout", t)?,
        None => Duration::from_secs(30),
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| ActionError::Failed(format!("cannot build HTTP client: {e}")))?;
    let mut req = client.get(&a.url);
    for (k, v) in &a.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.map_err(|e| {
        // The URL may carry a token in its query: never echo it.
        ActionError::Transport(format!(
            "GET {} failed: {}",
            redact(&a.url),
            e.without_url()
        ))
    })?;
    let status = resp.status().as_u16();
    let retry_after = crate::jupyterhub::api::retry_after(&resp);
    let text = resp.text().await.map_err(|e| {
        ActionError::Transport(format!("reading the body failed: {}", e.without_url()))
    })?;
    let expected = match &a.expect_status {
        Some(Value::Number(n)) => n.as_u64().map(|n| n as u16),
        Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
        _ => None,
    };
    let ok = match expected {
        Some(e) => status == e,
        None => (200..300).contains(&status),
    };
    if !ok {
        let first_line: String = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        return Err(ActionError::Api {
            code: status,
            reason: format!("HTTP {status}"),
            message: format!(
                "GET {} answered {status}{}: {first_line}",
                redact(&a.url),
                expected
                    .map(|e| format!(" (expected {e})"))
                    .unwrap_or_default()
            ),
            retry_after,
        });
    }
    let json_body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(json!({ "status": status, "json": json_body, "text": text }))
}

fn redact(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}
