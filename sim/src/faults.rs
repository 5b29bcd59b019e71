//! Fault injection: rules matching (verb, resource, namespace) that add
//! latency, answer 5xx/429, never answer, or drop the connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// One injected failure; empty `verbs`/`resources`/`namespaces` match everything.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    pub verbs: Vec<String>,
    /// Plural names, `pods/log` style subresources, or `*`.
    pub resources: Vec<String>,
    pub namespaces: Vec<String>,
    /// Added before answering (`3s`, `250ms`).
    #[serde(deserialize_with = "opt_duration")]
    pub latency: Option<Duration>,
    /// Answer with this HTTP status (a matching `kind: Status`).
    pub status: Option<u16>,
    /// `Retry-After` seconds sent with the status (429 usually).
    pub retry_after: Option<u64>,
    /// Never answer: the client's own timeout fires.
    pub timeout: bool,
    /// Close the connection without an answer.
    pub drop: bool,
    /// Apply this many times, then stop (forever when absent).
    pub times: Option<u32>,
    /// Only server-side dry runs (`true`, `?dryRun=All`) or only real
    /// requests (`false`); both when absent.
    pub dry_run: Option<bool>,
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| {
        humantime::parse_duration(s.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {s:?} ({e}); write e.g. `3s` or `250ms`"
            ))
        })
    })
    .transpose()
}

/// Deserialize `"2s"`-style durations (used by `sim.yaml`).
pub(crate) fn duration_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    opt_duration(d)
}

impl FaultRule {
    fn matches(&self, verb: &str, resource: &str, ns: Option<&str>, dry_run: bool) -> bool {
        let any =
            |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == "*" || x == v);
        let base = resource.split('/').next().unwrap_or("");
        any(&self.verbs, verb)
            && (self.resources.is_empty()
                || self
                    .resources
                    .iter()
                    .any(|x| x == "*" || x == resource || (x == base && !resource.contains('/'))))
            && (self.namespaces.is_empty()
                || match ns {
                    Some(n) => any(&self.namespaces, n),
                    // A list or watch across all namespaces reaches into
                    // every one of them: `*` covers it.
                    None => {
                        self.namespaces.iter().any(|x| x == "*")
                            && super::discovery::RESOURCES
                                .iter()
                                .any(|r| r.plural == base && r.namespaced)
                    }
                })
            && self.dry_run.is_none_or(|d| d == dry_run)
    }
}

/// A rule and how many more times it may fire (None = forever).
type LiveRule = (FaultRule, Option<u32>);

/// The live rule set of one cluster (with remaining `times` counts).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<LiveRule>>>,
}

impl Faults {
    /// Add a rule at the end (rules are tried in order; the first match applies).
    pub fn add(&self, rule: FaultRule) {
        let left = rule.times;
        self.rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((rule, left));
    }

    /// Remove every rule.
    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The first rule matching this request, consuming one of its `times`.
    pub fn take(
        &self,
        verb: &str,
        resource: &str,
        ns: Option<&str>,
        dry_run: bool,
    ) -> Option<FaultRule> {
        let mut g = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let idx = g.iter().position(|(r, left)| {
            left.is_none_or(|n| n > 0) && r.matches(verb, resource, ns, dry_run)
        })?;
        let (rule, left) = &mut g[idx];
        if let Some(n) = left {
            *n -= 1;
        }
        Some(rule.clone())
    }
}
