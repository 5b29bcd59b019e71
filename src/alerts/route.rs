//! Which alert runs which read-only command, and where its thread goes.
//!
//! Routes come from `alertmanager.routes` first, then the shipped ones for
//! the kube-prometheus / kubernetes-mixin alerts that concern hubs and user
//! servers. The first route an alert matches wins; its command is a
//! template over the alert's `labels` and `annotations`, the `hub` its
//! namespace (and `cluster` label) belong to, and the `user` its pod or
//! volume claim names. A route may only name a command that changes
//! nothing: that is checked once at start-up ([`check`]).

use std::collections::BTreeMap;

use regex::Regex;

use super::destination::Destination;
use crate::command::Grammar;
use crate::config::{AlertRoute, AlertmanagerConfig};
use crate::jupyterhub::directory::Hub;
use crate::playbook::{NotReadOnly, Playbooks};

/// Label regexes a shipped route needs besides its alertname.
type Labels = &'static [(&'static str, &'static str)];

/// The shipped routes, tried after the config's own: (alertname regex,
/// other label regexes, command).
const BUILTIN: &[(&str, Labels, &str)] = &[
    // A user server that keeps crashing: that user's triage.
    (
        "KubePodCrashLooping",
        &[("pod", "jupyter-.+")],
        "triage {{ hub }} {{ user }}",
    ),
    (
        "KubePodNotReady|KubeContainerWaiting",
        &[("pod", "jupyter-.+")],
        "user status {{ hub }} {{ user }}",
    ),
    // The hub or the proxy itself.
    (
        "KubePodCrashLooping|KubePodNotReady|KubeContainerWaiting",
        &[("pod", "(hub|proxy|autohttps)-.+")],
        "hub status {{ hub }}",
    ),
    (
        "KubeDeploymentReplicasMismatch|KubeDeploymentRolloutStuck|KubeDeploymentGenerationMismatch",
        &[("deployment", "hub|proxy|autohttps")],
        "hub status {{ hub }}",
    ),
    // A full (or filling) volume in a hub's namespace: the hub's database
    // or a user's home.
    (
        "KubePersistentVolumeFillingUp|KubePersistentVolumeInodesFillingUp",
        &[("persistentvolumeclaim", "claim-.+")],
        "user status {{ hub }} {{ user }}",
    ),
    (
        "KubePersistentVolumeFillingUp|KubePersistentVolumeInodesFillingUp",
        &[],
        "hub status {{ hub }}",
    ),
];

/// One route, compiled.
#[derive(Debug, Clone)]
pub struct Route {
    exact: BTreeMap<String, String>,
    patterns: Vec<(String, Regex)>,
    pub command: String,
    /// Where its groups are posted (at least one, checked by the loader).
    pub to: Vec<Destination>,
    /// `alertmanager.routes[2]` or `builtin: KubePodCrashLooping`.
    pub name: String,
}

impl Route {
    fn new(
        name: String,
        exact: BTreeMap<String, String>,
        patterns: &BTreeMap<String, String>,
        command: &str,
        to: Vec<Destination>,
    ) -> Result<Route, String> {
        let patterns = patterns
            .iter()
            .map(|(label, re)| {
                Regex::new(&format!("^(?:{re})$"))
                    .map(|r| (label.clone(), r))
                    .map_err(|e| format!("{name}: match_re.{label} `{re}`: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Route {
            exact,
            patterns,
            command: command.to_string(),
            to,
            name,
        })
    }

    /// Whether an alert with these labels is this route's.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.exact
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
            && self
                .patterns
                .iter()
                .all(|(k, re)| re.is_match(labels.get(k).map_or("", String::as_str)))
    }
}

/// The config's routes, then (unless `builtin_routes: false`) the shipped
/// ones, each with its destination resolved.
pub fn compile(cfg: &AlertmanagerConfig) -> Result<Vec<Route>, String> {
    let mut out = Vec::new();
    // A route naming a destination of its own goes there only.
    let defaults = Destination::all(&cfg.slack_channel, &cfg.github, &cfg.discord_channel);
    for (i, r) in cfg.routes.iter().enumerate() {
        let AlertRoute {
            matchers,
            match_re,
            command,
            slack_channel,
            github,
            discord_channel,
        } = r;
        let own = Destination::all(slack_channel, github, discord_channel);
        out.push(Route::new(
            format!("alertmanager.routes[{i}]"),
            matchers.clone(),
            match_re,
            command,
            if own.is_empty() {
                defaults.clone()
            } else {
                own
            },
        )?);
    }
    if cfg.builtin_routes {
        for (alertname, labels, command) in BUILTIN {
            let mut patterns: BTreeMap<String, String> = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            patterns.insert("alertname".into(), alertname.to_string());
            out.push(Route::new(
                format!("builtin: {alertname}"),
                BTreeMap::new(),
                &patterns,
                command,
                defaults.clone(),
            )?);
        }
    }
    Ok(out)
}

/// Every route names a command of the grammar that changes nothing: a
/// playbook without `mutates: true`, or a builtin that only reads.
pub fn check(routes: &[Route], grammar: &Grammar, playbooks: &Playbooks) -> Result<(), String> {
    let mut problems = Vec::new();
    for r in routes {
        match crate::playbook::read_only(&r.command, grammar, playbooks) {
            Ok(_) => {}
            Err(NotReadOnly::Unknown) => problems.push(format!(
                "{}: `{}` starts with no command opsbot knows; write one of `opsbot help`'s commands, e.g. `hub status {{{{ hub }}}}`",
                r.name, r.command
            )),
            Err(NotReadOnly::Changes(name)) => problems.push(format!(
                "{}: `{name}` changes things; an alert may only start a read-only command (status, triage, pending, events, logs...)",
                r.name
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// The hub an alert is about: the hub in its `namespace` on its `cluster`
/// label's cluster, or the only hub in that namespace when the alert has
/// no cluster label.
pub fn hub_of<'a>(labels: &BTreeMap<String, String>, hubs: &'a [Hub]) -> Option<&'a Hub> {
    let namespace = labels.get("namespace")?;
    let in_ns = hubs.iter().filter(|h| &h.namespace == namespace);
    match labels.get("cluster") {
        Some(cluster) => in_ns.into_iter().find(|h| &h.cluster == cluster),
        None => {
            let found: Vec<&Hub> = in_ns.collect();
            (found.len() == 1).then(|| found[0])
        }
    }
}

/// The JupyterHub user an alert's pod (`jupyter-NAME`) or volume claim
/// (`claim-NAME`) belongs to, as KubeSpawner named it.
pub fn user_of(labels: &BTreeMap<String, String>) -> Option<String> {
    labels
        .get("pod")
        .and_then(|p| p.strip_prefix("jupyter-"))
        .or_else(|| {
            labels
                .get("persistentvolumeclaim")
                .and_then(|c| c.strip_prefix("claim-"))
        })
        .filter(|u| !u.is_empty())
        .map(str::to_string)
}

/// Why an alert's command could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{route} needs {what}, which the alert does not give: {detail}")]
    Missing {
        route: String,
        what: &'static str,
        detail: String,
    },
    #[error("{route}: the label values make `{text}`, which holds characters a command cannot take; nothing was run")]
    Unsafe { route: String, text: String },
}

/// The command `route` runs for an alert with these labels.
pub fn command_for(
    route: &Route,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    hubs: &[Hub],
) -> Result<String, CommandError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut ctx = BTreeMap::new();
    ctx.insert("labels", minijinja::Value::from_serialize(labels));
    ctx.insert("annotations", minijinja::Value::from_serialize(annotations));
    if let Some(h) = hub_of(labels, hubs) {
        ctx.insert("hub", minijinja::Value::from(h.name.clone()));
    }
    if let Some(u) = user_of(labels) {
        ctx.insert("user", minijinja::Value::from(u));
    }
    let text = env.render_str(&route.command, ctx).map_err(|e| {
        let what = if route.command.contains("hub") && hub_of(labels, hubs).is_none() {
            "a hub (its `namespace` and `cluster` labels name none opsbot knows)"
        } else if route.command.contains("user") && user_of(labels).is_none() {
            "a user (a `pod` jupyter-NAME or `persistentvolumeclaim` claim-NAME label)"
        } else {
            "a label"
        };
        CommandError::Missing {
            route: route.name.clone(),
            what,
            detail: e.to_string(),
        }
    })?;
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let safe = |c: char| c.is_ascii_alphanumeric() || " ._:/@=+-".contains(c);
    if text.is_empty() || !text.chars().all(safe) {
        return Err(CommandError::Unsafe {
            route: route.name.clone(),
            text,
        });
    }
    Ok(text)
}

/// The first route one of `alerts` matches, with that alert's labels.
pub fn first_match<'r, 'a>(
    routes: &'r [Route],
    alerts: impl Iterator<Item = &'a crate::alerts::payload::Alert> + Clone,
) -> Option<(&'r Route, &'a crate::alerts::payload::Alert)> {
    routes.iter().find_map(|r| {
        alerts
            .clone()
            .find(|a| r.matches(&a.labels))
            .map(|a| (r, a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn hubs() -> Vec<Hub> {
        ["aws-us/staging", "gcp-eu/staging"]
            .iter()
            .map(|q| {
                let (c, n) = q.split_once('/').unwrap();
                Hub {
                    name: format!("{c}-{n}"),
                    cluster: c.into(),
                    namespace: n.into(),
                    source: "config",
                    api: false,
                }
            })
            .chain([Hub {
                name: "prod".into(),
                cluster: "aws-us".into(),
                namespace: "prod".into(),
                source: "config",
                api: false,
            }])
            .collect()
    }

    fn shipped() -> Vec<Route> {
        compile(&AlertmanagerConfig {
            token: None,
            basic_auth: None,
            person: "alertmanager".into(),
            slack_channel: Some("C1".into()),
            github: None,
            discord_channel: None,
            max_runs_per_minute: 10,
            max_body_bytes: 1 << 20,
            builtin_routes: true,
            routes: vec![AlertRoute {
                matchers: labels(&[("alertname", "KubePodCrashLooping"), ("namespace", "prod")]),
                match_re: BTreeMap::new(),
                command: "pending {{ hub }}".into(),
                slack_channel: Some("C2".into()),
                github: None,
                discord_channel: None,
            }],
        })
        .unwrap()
    }

    fn command(l: &[(&str, &str)]) -> Option<String> {
        let routes = shipped();
        let l = labels(l);
        let r = routes.iter().find(|r| r.matches(&l))?;
        Some(command_for(r, &l, &BTreeMap::new(), &hubs()).unwrap_or_else(|e| e.to_string()))
    }

    #[test]
    fn a_crash_looping_user_pod_gets_that_users_triage_on_its_clusters_hub() {
        let c = command(&[
            ("alertname", "KubePodCrashLooping"),
            ("namespace", "staging"),
            ("cluster", "gcp-eu"),
            ("pod", "jupyter-frank"),
        ]);
        assert_eq!(c.as_deref(), Some("triage gcp-eu-staging frank"));
    }

    #[test]
    fn hub_and_proxy_alerts_get_hub_status_and_custom_routes_come_first() {
        let hub = command(&[
            ("alertname", "KubeDeploymentReplicasMismatch"),
            ("namespace", "prod"),
            ("deployment", "proxy"),
        ]);
        assert_eq!(hub.as_deref(), Some("hub status prod"));
        let pv = command(&[
            ("alertname", "KubePersistentVolumeFillingUp"),
            ("namespace", "prod"),
            ("persistentvolumeclaim", "hub-db-dir"),
        ]);
        assert_eq!(pv.as_deref(), Some("hub status prod"));
        let custom = command(&[
            ("alertname", "KubePodCrashLooping"),
            ("namespace", "prod"),
            ("pod", "jupyter-ivan"),
        ]);
        assert_eq!(custom.as_deref(), Some("pending prod"));
        let other = command(&[("alertname", "Watchdog")]);
        assert_eq!(other, None);
    }

    #[test]
    fn an_alert_without_a_known_hub_or_with_odd_label_values_runs_nothing() {
        let ambiguous = command(&[
            ("alertname", "KubePodCrashLooping"),
            ("namespace", "staging"),
            ("pod", "jupyter-frank"),
        ])
        .unwrap();
        assert!(ambiguous.contains("needs a hub"), "{ambiguous}");
        let odd = command(&[
            ("alertname", "KubePodCrashLooping"),
            ("namespace", "prod"),
            ("cluster", "aws-us"),
            ("pod", "jupyter-x;`rm`"),
        ]);
        // The custom prod route takes it, and needs no user: no odd text.
        assert_eq!(odd.as_deref(), Some("pending prod"));
        let routes = shipped();
        let l = labels(&[("namespace", "prod"), ("pod", "jupyter-x\"--reason")]);
        let e = command_for(&routes[1], &l, &BTreeMap::new(), &hubs()).unwrap_err();
        assert!(matches!(e, CommandError::Unsafe { .. }), "{e}");
    }
}
