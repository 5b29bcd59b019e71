//! Turning the text of `opsbot.yaml` plus the environment into a [`Config`]:
//! the raw (spanned) file model, substitution, env overrides and cross checks.
//! Every problem found is collected; none stops the others from being found.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

mod alerts;
mod platforms;
pub mod schedules;
mod sections;

use super::expand::{self, Sources};
use super::*;
use crate::diagnostic::{Diagnostic, Diagnostics, Span, Spanned};

type S = Spanned<String>;

/// The file's top level. Each section is deserialized on its own (and each
/// list item and role on its own) so one typo does not hide the others.
#[derive(Default)]
struct RawConfig {
    listen: Option<S>,
    audit: Option<RawAudit>,
    commands: Option<S>,
    playbooks: Option<S>,
    clusters: Vec<Spanned<RawCluster>>,
    hubs: Vec<Spanned<RawHub>>,
    /// `None`: not written, so on exactly when `hubs:` is absent.
    discover_hubs: Option<bool>,
    people: Vec<Spanned<RawPerson>>,
    roles: HashMap<S, RawRole>,
    policy: Option<RawPolicy>,
    http: Option<RawHttp>,
    slack: Option<Spanned<RawSlack>>,
    /// `slack.channels`, deserialized entry by entry.
    slack_channels: HashMap<S, RawChannel>,
    github: Option<Spanned<RawGithub>>,
    discord: Option<Spanned<RawDiscord>>,
    alertmanager: Option<Spanned<alerts::RawAlertmanager>>,
    schedules: Vec<Spanned<schedules::RawSchedule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    url: S,
    anchor: Option<Spanned<RawAnchor>>,
    lease: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnchor {
    every: S,
    to: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: S,
    kubeconfig: Option<S>,
    context: Option<S>,
    #[serde(default)]
    in_cluster: bool,
    prometheus: Option<RawPrometheus>,
    watch_cache_max_objects: Option<S>,
}

/// A cluster's `prometheus:` (its token, when set, must be a reference).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrometheus {
    url: S,
    token: Option<S>,
    timeout: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHub {
    name: S,
    cluster: S,
    namespace: S,
    jupyterhub_api: Option<RawHubApi>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHubApi {
    url: S,
    token: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    id: S,
    name: Option<S>,
    slack: Option<S>,
    github: Option<S>,
    discord: Option<S>,
    kube_user: Option<S>,
    #[serde(default)]
    roles: Vec<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    #[serde(default)]
    run: Vec<S>,
    #[serde(default)]
    approve: Vec<S>,
    scope: Option<RawScope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    #[serde(default)]
    hubs: Vec<S>,
    #[serde(default)]
    clusters: Vec<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    header_timeout: Option<S>,
    request_timeout: Option<S>,
    max_connections: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    approval_ttl: Option<S>,
    #[serde(default)]
    exempt_from_approval: Vec<S>,
    always_allowed: Option<Vec<S>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    signing_secret: Option<S>,
    bot_token: Option<S>,
    app_token: Option<S>,
    api_url: Option<S>,
    /// Read entry by entry into [`RawConfig::slack_channels`], so each
    /// channel's mistake is reported on its own.
    #[allow(dead_code)]
    channels: Option<serde::de::IgnoredAny>,
}

/// One `slack.channels` entry: the short form is the list of commands
/// allowed there; the long form (`{ commands: [...], incident: true }`)
/// adds the channel's other settings.
enum RawChannel {
    Commands(Vec<S>),
    Settings(RawChannelSettings),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannelSettings {
    commands: Option<Vec<S>>,
    incident: Option<Spanned<bool>>,
}

impl<'de> Deserialize<'de> for RawChannel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawChannel;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of commands such as [\"hub status\"] or a mapping such as { commands: [...], incident: true }")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<RawChannel, A::Error> {
                Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(RawChannel::Commands)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawChannel, A::Error> {
                Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawChannel::Settings)
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGithub {
    webhook_secret: Option<S>,
    token: Option<S>,
    app_id: Option<S>,
    private_key_file: Option<S>,
    api_url: Option<S>,
    prefix: Option<S>,
    #[serde(default)]
    run_on_edit: bool,
    max_commands_per_comment: Option<Spanned<usize>>,
    #[serde(default)]
    teams: HashMap<S, Vec<S>>,
    min_permission: Option<S>,
    triage_labels: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiscord {
    public_key: Option<S>,
    application_id: Option<S>,
    bot_token: Option<S>,
    api_url: Option<S>,
    #[serde(default)]
    roles: HashMap<S, Vec<S>>,
}

/// Shared state while resolving one file: where problems go, where
/// `${...}` values come from.
struct Ctx<'a> {
    file: &'a str,
    base_dir: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    diags: Diagnostics,
    patterns: Vec<PatternSite>,
}

impl Ctx<'_> {
    fn err(&mut self, span: &Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(self.file, span, msg));
    }

    /// A set, non-empty environment variable.
    fn env_var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    fn sources(&self) -> Sources<'_> {
        Sources {
            env: self.env,
            base_dir: self.base_dir,
        }
    }

    /// A plain string with `${...}` expanded.
    fn string(&mut self, field: &str, v: &S) -> Option<String> {
        match expand::expand(v, &self.sources()) {
            Ok(s) => Some(s),
            Err(e) => {
                self.err(v.span(), format!("{field}: {}", e.0));
                None
            }
        }
    }

    /// A string that must not be empty after expansion.
    fn name(&mut self, field: &str, v: &S) -> Option<String> {
        let s = self.string(field, v)?;
        let s = s.trim().to_string();
        if s.is_empty() {
            self.err(v.span(), format!("{field} is empty; give it a value"));
            return None;
        }
        Some(s)
    }

    /// A secret: must be written as `${ENV}` / `${file:PATH}`, never literally.
    fn secret(&mut self, field: &str, v: &S) -> Option<SecretString> {
        if !expand::is_only_references(v) {
            self.err(
                v.span(),
                format!(
                    "{field} is a secret written literally in the file; write `${{ENV_VAR}}` or `${{file:PATH}}` instead (and rotate it if this file was ever shared)"
                ),
            );
            return None;
        }
        let s = self.string(field, v)?;
        if s.is_empty() {
            self.err(
                v.span(),
                format!("{field} expands to an empty value; set it"),
            );
            return None;
        }
        Some(SecretString::from(s))
    }

    /// A secret from its environment variable (which wins) or the file.
    fn secret_or_env(&mut self, field: &str, v: Option<&S>, var: &str) -> Option<SecretString> {
        if let Some(val) = self.env_var(var) {
            return Some(SecretString::from(val));
        }
        v.and_then(|v| self.secret(field, v))
    }

    /// A plain value from its environment variable (which wins) or the file.
    fn string_or_env(&mut self, field: &str, v: Option<&S>, var: &str) -> Option<(String, Span)> {
        if let Some(val) = self.env_var(var) {
            return Some((val, Span::new_blank()));
        }
        let v = v?;
        self.string(field, v).map(|s| (s, *v.span()))
    }

    fn api_url(&mut self, field: &str, v: Option<&S>, var: &str, default: &str) -> String {
        let Some((url, span)) = self.string_or_env(field, v, var) else {
            return default.to_string();
        };
        let url = url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            let from = if span.start().is_none() {
                format!(" (from {var})")
            } else {
                String::new()
            };
            self.err(
                &span,
                format!("{field}: `{url}`{from} is not an http(s) URL; write e.g. `{default}`"),
            );
        }
        url
    }

    /// A command pattern: `"*"`, `"hub restart"` or `"hub *"`; recorded for
    /// `opsbot check`.
    fn pattern(&mut self, field: &str, v: &S) -> Option<String> {
        let words: Vec<&str> = v.split_whitespace().collect();
        let hint = "write a command name like `hub status`, a prefix like `hub *`, or `*` for every command";
        if words.is_empty() {
            self.err(v.span(), format!("{field}: empty command pattern; {hint}"));
            return None;
        }
        for (i, w) in words.iter().enumerate() {
            let last = i + 1 == words.len();
            let ok = if *w == "*" {
                last
            } else {
                w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            };
            if !ok {
                self.err(
                    v.span(),
                    format!("{field}: `{}` is not a command pattern; {hint}", v.as_str()),
                );
                return None;
            }
        }
        let p = words.join(" ");
        let (line, column) = v
            .span()
            .start()
            .map(|m| (m.line(), m.column()))
            .unwrap_or((0, 0));
        self.patterns.push(PatternSite {
            pattern: p.clone(),
            file: self.file.to_string(),
            line,
            column,
        });
        Some(p)
    }

    fn patterns(&mut self, field: &str, vs: &[S]) -> Vec<String> {
        vs.iter().filter_map(|v| self.pattern(field, v)).collect()
    }

    /// Role names that must exist; unknown ones are reported with a suggestion.
    fn role_refs(&mut self, field: &str, vs: &[S], roles: &HashSet<String>) -> Vec<String> {
        let mut out = Vec::new();
        for v in vs {
            let r = v.trim().to_string();
            if roles.contains(&r) {
                out.push(r);
            } else {
                let msg = format!(
                    "{field}: unknown role `{r}`{}",
                    suggest(&r, roles.iter().map(String::as_str), "roles")
                );
                self.err(v.span(), msg);
            }
        }
        out
    }
}

/// ", did you mean `x`?" or the list of known names.
fn suggest<'a>(word: &str, known: impl Iterator<Item = &'a str>, what: &str) -> String {
    let mut known: Vec<&str> = known.collect();
    known.sort();
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => format!("; did you mean `{k}`?"),
        None if known.is_empty() => format!("; no {what} are defined"),
        None => format!("; known {what}: {}", known.join(", ")),
    }
}

/// Map entries in file order (serde gives them to us unordered).
fn in_file_order<V>(map: &HashMap<S, V>) -> Vec<(&S, &V)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start().map(|m| m.character()).unwrap_or(0));
    v
}

/// Resolves `text` into a [`Config`]: parse, then each section in the order
/// later ones depend on (roles need hubs and clusters, people need roles).
/// Every problem is collected; the config is returned only when none was
/// found.
pub(super) fn build(
    file: &str,
    text: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Diagnostics> {
    if text.trim().is_empty() {
        return Err(
            Diagnostic::file(file, "the config is empty; start from examples/opsbot.yaml").into(),
        );
    }
    let mut cx = Ctx {
        file,
        base_dir,
        env,
        diags: Diagnostics::default(),
        patterns: Vec::new(),
    };
    let raw = parse_raw(&mut cx, text)?;
    let mut cfg = Config {
        path: PathBuf::from(file),
        ..Config::default()
    };
    if let Some(listen) = raw
        .listen
        .as_ref()
        .and_then(|l| sections::listen(&mut cx, l))
    {
        cfg.listen = listen;
    }
    cfg.audit_url = audit_url(&mut cx, raw.audit.as_ref());
    cfg.audit_anchor = raw
        .audit
        .as_ref()
        .and_then(|a| a.anchor.as_ref())
        .and_then(|a| audit_anchor(&mut cx, a));
    if let Some(lease) = raw.audit.as_ref().and_then(|a| a.lease.as_ref()) {
        if let Some(d) = audit_lease(&mut cx, lease) {
            cfg.audit_lease = d;
        }
    }
    cfg.commands_dir = dir(&mut cx, "commands", raw.commands.as_ref());
    cfg.playbooks_dir = dir(&mut cx, "playbooks", raw.playbooks.as_ref());
    // Not written and not beside the config: the pack built into the binary.
    cfg.commands_builtin = raw.commands.is_none() && !cfg.commands_dir.is_dir();
    cfg.playbooks_builtin = raw.playbooks.is_none() && !cfg.playbooks_dir.is_dir();

    cfg.clusters = sections::clusters(&mut cx, &raw.clusters);
    let cluster_names: HashSet<String> = cfg.clusters.iter().map(|c| c.name.clone()).collect();
    cfg.hubs = sections::hubs(&mut cx, &raw.hubs, &cluster_names);
    // A config that lists no hubs means "find them": discovery is on
    // unless the file says `discover_hubs: false`.
    cfg.discover_hubs = raw.discover_hubs.unwrap_or(raw.hubs.is_empty());
    let hub_names: HashSet<String> = cfg.hubs.iter().map(|h| h.name.clone()).collect();

    // Roles before people, who refer to them.
    let role_names: HashSet<String> = raw.roles.keys().map(|k| k.trim().to_string()).collect();
    let known = sections::Known {
        hubs: &hub_names,
        clusters: &cluster_names,
        discover_hubs: cfg.discover_hubs,
    };
    cfg.roles = sections::roles(&mut cx, &raw.roles, &known);
    cfg.people = sections::people(&mut cx, &raw.people, &role_names);
    cfg.policy = sections::policy(&mut cx, raw.policy.as_ref());
    cfg.http = http_limits(&mut cx, raw.http.as_ref());

    cfg.slack = platforms::slack(&mut cx, raw.slack.as_ref(), &raw.slack_channels);
    cfg.github = platforms::github(&mut cx, raw.github.as_ref(), &role_names);
    cfg.discord = platforms::discord(&mut cx, raw.discord.as_ref(), &role_names);

    cfg.alertmanager = alerts::alertmanager(&mut cx, raw.alertmanager.as_ref(), &cfg.people);
    cfg.schedules = schedules::schedules(&mut cx, &raw.schedules, &cfg.people);

    cfg.pattern_sites = std::mem::take(&mut cx.patterns);
    cx.diags.into_result(cfg)
}

const SECTIONS: &str = "listen, audit, commands, playbooks, clusters, hubs, discover_hubs, people, roles, policy, http, slack, github, discord, alertmanager, schedules";

/// `http:` over the defaults, each value overridden by its `OPSBOT_HTTP_*`
/// variable; a value that does not parse is an error at its place.
fn http_limits(cx: &mut Ctx<'_>, raw: Option<&RawHttp>) -> crate::config::HttpLimits {
    let mut limits = crate::config::HttpLimits::default();
    let duration = |cx: &mut Ctx<'_>,
                    field: &str,
                    var: &str,
                    v: Option<&S>,
                    into: &mut std::time::Duration| {
        let Some((text, span)) = cx.string_or_env(field, v, var) else {
            return;
        };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() => *into = d,
            _ => {
                let from = if span.start().is_none() {
                    format!(" (from {var})")
                } else {
                    String::new()
                };
                cx.err(
                    &span,
                    format!("{field}: `{text}`{from} is not a positive duration; write e.g. `10s`"),
                );
            }
        }
    };
    duration(
        cx,
        "http.header_timeout",
        "OPSBOT_HTTP_HEADER_TIMEOUT",
        raw.and_then(|r| r.header_timeout.as_ref()),
        &mut limits.header_timeout,
    );
    duration(
        cx,
        "http.request_timeout",
        "OPSBOT_HTTP_REQUEST_TIMEOUT",
        raw.and_then(|r| r.request_timeout.as_ref()),
        &mut limits.request_timeout,
    );
    if let Some((text, span)) = cx.string_or_env(
        "http.max_connections",
        raw.and_then(|r| r.max_connections.as_ref()),
        "OPSBOT_HTTP_MAX_CONNECTIONS",
    ) {
        match text.trim().parse::<usize>() {
            Ok(n) if n > 0 => limits.max_connections = n,
            _ => cx.err(
                &span,
                format!("http.max_connections: `{text}` is not a positive number"),
            ),
        }
    }
    limits
}

/// Parse the YAML and deserialize it section by section (lists item by
/// item), collecting every type error. A syntax error ends the parse.
fn parse_raw(cx: &mut Ctx<'_>, text: &str) -> Result<RawConfig, Diagnostics> {
    let node = match marked_yaml::parse_yaml(0, text) {
        Ok(n) => n,
        // Let the shared loader phrase the syntax error with its position.
        Err(_) => {
            return Err(
                crate::diagnostic::parse_str::<serde::de::IgnoredAny>(cx.file, text)
                    .err()
                    .unwrap_or_else(|| Diagnostic::file(cx.file, "the config is not valid YAML"))
                    .into(),
            )
        }
    };
    let Some(top) = node.as_mapping() else {
        return Err(Diagnostic::at(
            cx.file,
            node.span(),
            "the config must be a mapping of sections (listen:, clusters:, people:, ...)",
        )
        .into());
    };
    let mut raw = RawConfig::default();
    for (key, value) in top.iter() {
        let k = key.as_str();
        match k {
            "listen" => raw.listen = cx.node(k, value),
            "audit" => raw.audit = cx.node(k, value),
            "commands" => raw.commands = cx.node(k, value),
            "playbooks" => raw.playbooks = cx.node(k, value),
            "clusters" => raw.clusters = cx.items(k, value),
            "hubs" => raw.hubs = cx.items(k, value),
            "discover_hubs" => raw.discover_hubs = cx.node(k, value),
            "people" => raw.people = cx.items(k, value),
            "roles" => raw.roles = cx.entries(k, value),
            "policy" => raw.policy = cx.node(k, value),
            "http" => raw.http = cx.node(k, value),
            "slack" => {
                raw.slack = cx.node(k, value);
                if let Some(channels) = value.as_mapping().and_then(|m| m.get_node("channels")) {
                    raw.slack_channels = cx.entries("slack.channels", channels);
                }
            }
            "github" => raw.github = cx.node(k, value),
            "discord" => raw.discord = cx.node(k, value),
            "alertmanager" => raw.alertmanager = cx.node(k, value),
            "schedules" => raw.schedules = cx.items(k, value),
            _ => {
                let msg = format!(
                    "unknown section `{k}`{}",
                    suggest(k, SECTIONS.split(", "), "sections")
                );
                cx.err(key.span(), msg);
            }
        }
    }
    Ok(raw)
}

impl Ctx<'_> {
    /// Deserialize one node; a type error is reported and gives `None`.
    fn node<T: serde::de::DeserializeOwned>(
        &mut self,
        at: &str,
        node: &marked_yaml::Node,
    ) -> Option<T> {
        match marked_yaml::from_node::<T>(node) {
            Ok(v) => Some(v),
            Err(e) => {
                // "Other" errors (wrong type) carry the enclosing node's
                // position; the path finds the offending value itself.
                let mark = match &*e {
                    marked_yaml::Error::Other(..) => None,
                    _ => e.start_mark(),
                };
                let (line, column) = mark
                    .or_else(|| node_at(node, e.path()).span().start().copied())
                    .or_else(|| e.start_mark())
                    .map(|m| (m.line(), m.column()))
                    .unwrap_or((0, 0));
                let path = match e.path() {
                    Some(p) if !p.is_empty() && p != "." => format!("{at}.{p}"),
                    _ => at.to_string(),
                };
                self.diags.push(Diagnostic {
                    file: self.file.to_string(),
                    line,
                    column,
                    message: match &*e {
                        marked_yaml::Error::NotBoolean(_) => {
                            format!("{path}: expected `true` or `false`")
                        }
                        marked_yaml::Error::IntegerParseFailure(..) => {
                            format!("{path}: expected a whole number such as `5`")
                        }
                        other => format!("{path}: {other}"),
                    },
                });
                None
            }
        }
    }

    /// A list whose items are deserialized one by one.
    fn items<T: serde::de::DeserializeOwned>(
        &mut self,
        at: &str,
        node: &marked_yaml::Node,
    ) -> Vec<T> {
        match node.as_sequence() {
            Some(seq) => seq
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.node(&format!("{at}[{i}]"), item))
                .collect(),
            None => self.node::<Vec<T>>(at, node).unwrap_or_default(),
        }
    }

    /// A mapping whose values are deserialized one by one, keys kept spanned.
    fn entries<T: serde::de::DeserializeOwned>(
        &mut self,
        at: &str,
        node: &marked_yaml::Node,
    ) -> HashMap<S, T> {
        match node.as_mapping() {
            Some(map) => map
                .iter()
                .filter_map(|(k, v)| {
                    let value = self.node(&format!("{at}.{}", k.as_str()), v)?;
                    Some((Spanned::new(*k.span(), k.as_str().to_string()), value))
                })
                .collect(),
            None => self.node::<HashMap<S, T>>(at, node).unwrap_or_default(),
        }
    }
}

/// The deepest node along a serde path such as `roles` or `scope.hubs[1]`,
/// so errors without a position of their own point at the right value.
fn node_at<'n>(mut node: &'n marked_yaml::Node, path: Option<&str>) -> &'n marked_yaml::Node {
    let Some(path) = path else { return node };
    for seg in path.split('.') {
        let (name, indexes) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !name.is_empty() {
            match node.as_mapping().and_then(|m| m.get_node(name)) {
                Some(n) => node = n,
                None => return node,
            }
        }
        for idx in indexes.split(['[', ']']).filter(|x| !x.is_empty()) {
            match (node.as_sequence(), idx.parse::<usize>()) {
                (Some(seq), Ok(i)) if i < seq.len() => node = &seq[i],
                _ => return node,
            }
        }
    }
    node
}

fn dir(cx: &mut Ctx<'_>, field: &str, v: Option<&S>) -> PathBuf {
    match v.and_then(|v| cx.name(field, v)) {
        Some(p) => expand::resolve_path(&p, cx.base_dir, cx.env),
        None => cx.base_dir.join(field),
    }
}

/// `audit.lease: 30s`: how long a process may miss heartbeats before
/// another sharing the store takes its runs over.
fn audit_lease(cx: &mut Ctx<'_>, raw: &S) -> Option<std::time::Duration> {
    let text = cx.string("audit.lease", raw)?;
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d >= std::time::Duration::from_millis(300) => Some(d),
        _ => {
            cx.err(
                raw.span(),
                format!(
                    "audit.lease: `{text}` is not a duration of at least 300ms; write e.g. `30s`"
                ),
            );
            None
        }
    }
}

/// `audit.anchor: { every: 1h, to: FILE }`: `serve` appends the chain head to
/// FILE on that schedule.
fn audit_anchor(cx: &mut Ctx<'_>, raw: &Spanned<RawAnchor>) -> Option<AnchorSchedule> {
    let every = cx.string("audit.anchor.every", &raw.every)?;
    let every = match humantime::parse_duration(every.trim()) {
        Ok(d) if !d.is_zero() => d,
        _ => {
            cx.err(
                raw.every.span(),
                format!(
                    "audit.anchor.every: `{every}` is not a positive duration; write e.g. `1h`"
                ),
            );
            return None;
        }
    };
    let to = cx.name("audit.anchor.to", &raw.to)?;
    Some(AnchorSchedule {
        every,
        to: expand::resolve_path(&to, cx.base_dir, cx.env),
    })
}

fn audit_url(cx: &mut Ctx<'_>, raw: Option<&RawAudit>) -> String {
    if let Some(url) = cx.env_var("OPSBOT_AUDIT_URL") {
        // From the environment: relative sqlite paths stay relative to the
        // working directory, as a shell user expects.
        return url;
    }
    let Some(raw) = raw else {
        return format!("sqlite://{}", cx.base_dir.join("opsbot.db").display());
    };
    let Some(url) = cx.name("audit.url", &raw.url) else {
        return String::new();
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            cx.err(
                raw.url.span(),
                "audit.url: `sqlite://` needs a file path, e.g. `sqlite://opsbot.db`",
            );
            return url;
        }
        return format!(
            "sqlite://{}",
            expand::resolve_path(path, cx.base_dir, cx.env).display()
        );
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        if render::url_password(&url).is_some() && !raw.url.contains("${") {
            cx.err(
                raw.url.span(),
                "audit.url: the database password is written literally in the file; put the URL in `${OPSBOT_AUDIT_URL}` or the password in `${ENV_VAR}`/`${file:PATH}`",
            );
        }
        return url;
    }
    cx.err(
        raw.url.span(),
        format!(
            "audit.url: `{}` is not supported; write `sqlite://PATH` or `postgres://HOST/DB`",
            render::redact_url(&url)
        ),
    );
    url
}
