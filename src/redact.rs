//! Scrubbing secrets out of text before it reaches a log, a record or a chat:
//! the one redaction of the crate, with one [`PLACEHOLDER`].
//!
//! Config secrets are `SecretString`s and never printed, but a playbook's
//! output or an API error can still echo one back (a token in a URL, a
//! Secret's data). Everything that leaves the process through the audit log
//! or a reply passes through a [`Redactor`] first, which knows the secret
//! *values*. Structured data is also scrubbed by *name* ([`secret_keys`]):
//! a value under a key such as `token` is a secret even when no one told the
//! redactor about it.

/// What every redacted secret is replaced with: in replies, audit records and
/// the printed config alike.
pub const PLACEHOLDER: &str = "<redacted>";

/// Replaces every known secret value with [`PLACEHOLDER`].
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// Shorter values are not treated as secrets: replacing them would mangle
/// ordinary text and they protect nothing.
const MIN_SECRET_LEN: usize = 6;

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), PLACEHOLDER);
            }
        }
        out
    }

    pub fn json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.secrets.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.text(&k), self.json(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

/// True for object keys that name a secret (`password`, `token`,
/// `client_secret`, `slack_bot_token`, `Authorization`, ...).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    const EXACT: [&str; 9] = [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "private_key",
        "credentials",
    ];
    const SUFFIXES: [&str; 5] = ["_password", "_secret", "_token", "_api_key", "_private_key"];
    EXACT.contains(&k.as_str()) || SUFFIXES.iter().any(|s| k.ends_with(s))
}

/// Replaces the values of secret-named keys (at any depth) with
/// [`PLACEHOLDER`]. The audit log runs this before an event is sealed:
/// records are kept forever and exported, so a secret that slipped into
/// `data` must never be stored. Callers should still keep secrets out; this
/// is the last line of defence. `null` stays `null` (nothing to hide).
pub fn secret_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_key(k) && !val.is_null() {
                    *val = serde_json::Value::String(PLACEHOLDER.to_owned());
                } else {
                    secret_keys(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(secret_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_replaced_in_text_and_nested_json() {
        let r = Redactor::new(vec!["xoxb-123456".to_string(), "abc".to_string()]);
        assert_eq!(
            r.text("token xoxb-123456 used; abc stays"),
            "token <redacted> used; abc stays"
        );
        let v = r.json(serde_json::json!({"a": ["Bearer xoxb-123456"], "b": 1}));
        assert_eq!(v, serde_json::json!({"a": ["Bearer <redacted>"], "b": 1}));
    }

    #[test]
    fn secret_named_values_are_redacted_at_any_depth() {
        let mut data = json!({
            "person": "alice",
            "token": "xoxb-123",
            "where": {"Slack-Bot-Token": "xoxb-456", "channel": "C1"},
            "steps": [{"client_secret": "s3cr3t", "tokens_used": 12}],
            "password": null
        });
        secret_keys(&mut data);
        assert_eq!(
            data,
            json!({
                "person": "alice",
                "token": PLACEHOLDER,
                "where": {"Slack-Bot-Token": PLACEHOLDER, "channel": "C1"},
                "steps": [{"client_secret": PLACEHOLDER, "tokens_used": 12}],
                "password": null
            })
        );
    }
}
