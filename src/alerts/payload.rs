//! Alertmanager's webhook payload, version 4 (`webhook_config`): one
//! notification for one alert group.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One notification: the group, its state, and its alerts.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// `"4"`: the only version there is.
    pub version: String,
    /// Identifies the group across notifications: one thread per key.
    pub group_key: String,
    /// Alerts Alertmanager left out because of `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    pub status: Status,
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<Alert>,
}

/// A group fires while any of its alerts does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

/// One alert of the group.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: Status,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// Why a body is not a notification opsbot can take, said so that the
/// person configuring Alertmanager knows what to change.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not Alertmanager's webhook JSON: {0}; send Alertmanager's webhook_config payload (version 4)")]
    Json(#[from] serde_json::Error),
    #[error(
        "payload version `{0}` is not supported; opsbot reads Alertmanager's webhook version 4"
    )]
    Version(String),
    #[error("groupKey is empty; opsbot keeps one thread per Alertmanager group and needs its key")]
    NoGroupKey,
}

impl Notification {
    /// Parse and check a webhook body.
    pub fn parse(body: &[u8]) -> Result<Notification, PayloadError> {
        let n: Notification = serde_json::from_slice(body)?;
        if n.version != "4" {
            return Err(PayloadError::Version(n.version));
        }
        if n.group_key.trim().is_empty() {
            return Err(PayloadError::NoGroupKey);
        }
        Ok(n)
    }

    /// The alerts still firing.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.status == Status::Firing)
    }

    /// The group's name for people: its alertname, or its group labels.
    pub fn title(&self) -> String {
        if let Some(name) = self
            .common_labels
            .get("alertname")
            .or_else(|| self.group_labels.get("alertname"))
        {
            return name.clone();
        }
        let labels: Vec<String> = self
            .group_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if labels.is_empty() {
            "alert group".to_string()
        } else {
            labels.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from Alertmanager's documentation (configuration.md,
    /// `<webhook_config>`), with one alert.
    const DOCUMENTED: &str = r#"{
      "version": "4",
      "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}",
      "truncatedAlerts": 0,
      "status": "firing",
      "receiver": "opsbot",
      "groupLabels": {"alertname": "KubePodCrashLooping"},
      "commonLabels": {"alertname": "KubePodCrashLooping", "namespace": "staging"},
      "commonAnnotations": {},
      "externalURL": "http://alertmanager:9093",
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "KubePodCrashLooping", "namespace": "staging", "pod": "jupyter-frank"},
        "annotations": {"description": "Pod is restarting"},
        "startsAt": "2026-12-03T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "c2a4b1d2e3f40516"
      }]
    }"#;

    #[test]
    fn the_documented_payload_reads_back() {
        let n = Notification::parse(DOCUMENTED.as_bytes()).unwrap();
        assert_eq!(n.status, Status::Firing);
        assert_eq!(n.title(), "KubePodCrashLooping");
        assert_eq!(n.firing().count(), 1);
        assert_eq!(n.alerts[0].labels["pod"], "jupyter-frank");
        assert_eq!(n.external_url, "http://alertmanager:9093");
    }

    #[test]
    fn other_versions_and_empty_group_keys_are_refused_with_what_to_send() {
        let v3 = DOCUMENTED.replace("\"version\": \"4\"", "\"version\": \"3\"");
        let e = Notification::parse(v3.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("version 4"), "{e}");
        let nokey = DOCUMENTED.replace(
            r#""groupKey": "{}:{alertname=\"KubePodCrashLooping\"}""#,
            r#""groupKey": """#,
        );
        let e = Notification::parse(nokey.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("groupKey"), "{e}");
        let e = Notification::parse(b"{not json").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
