//! API errors as the API server writes them: a `kind: Status` object with
//! the same reason, code, details and message wording, so clients (kube's
//! `ErrorResponse`, kubectl's messages) behave exactly as against a cluster.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One failed API call.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Value) -> ApiError {
        ApiError { code, reason, message, details, retry_after: None }
    }

    /// `pods "x" not found`.
    pub fn not_found(plural: &str, group: &str, name: &str) -> ApiError {
        let what = qualified(plural, group);
        ApiError::new(404, "NotFound", format!("{what} \"{name}\" not found"), json!({ "name": name, "group": group, "kind": plural }))
    }

    /// `pods "x" already exists`.
    pub fn already_exists(plural: &str, group: &str, name: &str) -> ApiError {
        let what = qualified(plural, group);
        ApiError::new(409, "AlreadyExists", format!("{what} \"{name}\" already exists"), json!({ "name": name, "group": group, "kind": plural }))
    }

    /// The optimistic-concurrency conflict on a stale resourceVersion.
    pub fn conflict(plural: &str, group: &str, name: &str) -> ApiError {
        let what = qualified(plural, group);
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {what} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"),
            json!({ "name": name, "group": group, "kind": plural }),
        )
    }

    /// RBAC's refusal, word for word.
    pub fn forbidden(user: &str, verb: &str, plural: &str, sub: Option<&str>, group: &str, namespace: Option<&str>, name: Option<&str>) -> ApiError {
        let resource = match sub {
            Some(s) => format!("{plural}/{s}"),
            None => plural.to_string(),
        };
        let what = match name {
            Some(n) => format!("{} \"{n}\"", qualified(plural, group)),
            None => qualified(plural, group),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        ApiError::new(
            403,
            "Forbidden",
            format!("{what} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"),
            json!({ "name": name.unwrap_or_default(), "group": group, "kind": plural }),
        )
    }

    /// No or a wrong bearer token.
    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized".into(), json!({}))
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message.into(), json!({}))
    }

    pub fn invalid(plural: &str, group: &str, name: &str, message: impl Into<String>) -> ApiError {
        let what = qualified(plural, group);
        ApiError::new(422, "Invalid", format!("{what} \"{name}\" is invalid: {}", message.into()), json!({ "name": name, "group": group, "kind": plural }))
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource".into(), json!({}))
    }

    pub fn page_not_found() -> ApiError {
        ApiError::new(404, "NotFound", "the server could not find the requested resource".into(), json!({}))
    }

    /// Watch from a resourceVersion that is no longer kept.
    pub fn gone(rv: u64) -> ApiError {
        ApiError::new(410, "Expired", format!("too old resource version: {rv}"), json!({}))
    }

    /// An injected failure with an arbitrary status code.
    pub fn injected(code: u16, retry_after: Option<u64>) -> ApiError {
        let reason = match code {
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            403 => "Forbidden",
            409 => "Conflict",
            _ => "Unknown",
        };
        let message = match code {
            429 => "Too many requests, please try again later.".to_string(),
            503 => "the server is currently unable to handle the request".to_string(),
            _ => format!("injected failure ({code})"),
        };
        let mut e = ApiError::new(code, reason, message, json!({ "retryAfterSeconds": retry_after }));
        e.retry_after = retry_after;
        e
    }

    /// The Status object.
    pub fn body(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (code, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = s.to_string().parse() {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        resp
    }
}

/// `deployments.apps`, or `pods` for the core group.
fn qualified(plural: &str, group: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// The success Status some deletes answer with.
pub fn success(plural: &str, group: &str, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": { "name": name, "group": group, "kind": plural, "uid": uid }
    })
}
