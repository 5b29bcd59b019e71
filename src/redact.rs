//! Scrubbing secrets out of text before it reaches a log, a record or a chat.
//!
//! Config secrets are `SecretString`s and never printed, but a playbook's
//! output or an API error can still echo one back (a token in a URL, a
//! Secret's data). Everything that leaves the process through the audit log
//! or a reply passes through a [`Redactor`] first.

/// Replaces every known secret value with `<redacted>`.
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
                out = out.replace(s.as_str(), "<redacted>");
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
