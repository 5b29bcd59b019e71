//! Turning the text of `opsbot.yaml` plus the environment into a [`Config`]:
//! the raw (spanned) file model, substitution, env overrides and cross checks.
//! Every problem found is collected; none stops the others from being found.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use super::expand::{self, Sources};
use super::*;
use crate::yaml::{Diagnostic, Diagnostics, Span, Spanned};

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
    discover_hubs: bool,
    people: Vec<Spanned<RawPerson>>,
    roles: HashMap<S, RawRole>,
    policy: Option<RawPolicy>,
    slack: Option<Spanned<RawSlack>>,
    github: Option<Spanned<RawGithub>>,
    discord: Option<Spanned<RawDiscord>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    url: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: S,
    kubeconfig: Option<S>,
    context: Option<S>,
    #[serde(default)]
    in_cluster: bool,
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
    #[serde(default)]
    channels: HashMap<S, Vec<S>>,
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
    #[serde(default)]
    triage_labels: Vec<S>,
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

fn is_secret_env_set(ctx: &Ctx<'_>, vars: &[&str]) -> bool {
    vars.iter().any(|v| ctx.env_var(v).is_some())
}

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

    if let Some(l) = &raw.listen {
        if let Some(s) = cx.string("listen", l) {
            let s = s.trim();
            let parsed = s.parse::<SocketAddr>().ok().or_else(|| {
                s.strip_prefix("localhost:")
                    .and_then(|p| p.parse::<u16>().ok())
                    .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            });
            match parsed {
                Some(a) => cfg.listen = a,
                None => cx.err(
                    l.span(),
                    format!(
                        "listen: `{s}` is not an address; write IP:PORT such as `127.0.0.1:8080`"
                    ),
                ),
            }
        }
    }

    cfg.audit_url = audit_url(&mut cx, raw.audit.as_ref());
    cfg.commands_dir = dir(&mut cx, "commands", raw.commands.as_ref());
    cfg.playbooks_dir = dir(&mut cx, "playbooks", raw.playbooks.as_ref());

    // Clusters.
    let mut seen = HashSet::new();
    for c in &raw.clusters {
        let Some(name) = cx.name("clusters[].name", &c.name) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            cx.err(
                c.name.span(),
                format!("cluster `{name}` is defined twice; cluster names must be unique"),
            );
            continue;
        }
        let source = if c.in_cluster {
            if c.kubeconfig.is_some() || c.context.is_some() {
                cx.err(
                    c.span(),
                    format!("cluster `{name}`: `in_cluster: true` cannot be combined with `kubeconfig`/`context`; keep one of them"),
                );
            }
            ClusterSource::InCluster
        } else {
            let path = c.kubeconfig.as_ref().and_then(|k| {
                cx.name("kubeconfig", k)
                    .map(|p| expand::resolve_path(&p, base_dir, env))
            });
            let context = c.context.as_ref().and_then(|k| cx.name("context", k));
            ClusterSource::Kubeconfig { path, context }
        };
        cfg.clusters.push(ClusterConfig { name, source });
    }
    let cluster_names: HashSet<String> = cfg.clusters.iter().map(|c| c.name.clone()).collect();

    // Hubs.
    let mut seen = HashSet::new();
    for h in &raw.hubs {
        let name = cx.name("hubs[].name", &h.name);
        let cluster = cx.name("hubs[].cluster", &h.cluster);
        let namespace = cx.name("hubs[].namespace", &h.namespace);
        if let Some(c) = &cluster {
            if !cluster_names.contains(c) {
                let msg = format!(
                    "hub cluster `{c}` is not defined under `clusters`{}",
                    suggest(c, cluster_names.iter().map(String::as_str), "clusters")
                );
                cx.err(h.cluster.span(), msg);
            }
        }
        let api = h.jupyterhub_api.as_ref().and_then(|a| {
            let url = cx.name("jupyterhub_api.url", &a.url);
            let token = cx.secret("jupyterhub_api.token", &a.token);
            Some(JupyterHubApi {
                url: url?.trim_end_matches('/').to_string(),
                token: token?,
            })
        });
        let (Some(name), Some(cluster), Some(namespace)) = (name, cluster, namespace) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            cx.err(
                h.name.span(),
                format!("hub `{name}` is defined twice; hub names must be unique"),
            );
            continue;
        }
        cfg.hubs.push(HubConfig {
            name,
            cluster,
            namespace,
            jupyterhub_api: api,
        });
    }
    cfg.discover_hubs = raw.discover_hubs;
    let hub_names: HashSet<String> = cfg.hubs.iter().map(|h| h.name.clone()).collect();

    // Roles (before people, who refer to them).
    let role_names: HashSet<String> = raw.roles.keys().map(|k| k.trim().to_string()).collect();
    for (key, r) in in_file_order(&raw.roles) {
        let name = key.trim().to_string();
        if name.is_empty() {
            cx.err(key.span(), "a role needs a name");
            continue;
        }
        if r.run.is_empty() && r.approve.is_empty() {
            cx.err(
                key.span(),
                format!("role `{name}` grants nothing; give it `run: [...]` and/or `approve: [...]` command patterns"),
            );
        }
        let run = cx.patterns(&format!("roles.{name}.run"), &r.run);
        let approve = cx.patterns(&format!("roles.{name}.approve"), &r.approve);
        let mut scope = Scope::default();
        if let Some(s) = &r.scope {
            for h in &s.hubs {
                let h_name = h.trim().to_string();
                if h_name != "*" && !hub_names.contains(&h_name) && !cfg.discover_hubs {
                    let msg = format!(
                        "roles.{name}.scope.hubs: hub `{h_name}` is not defined under `hubs` (and `discover_hubs` is off){}",
                        suggest(&h_name, hub_names.iter().map(String::as_str), "hubs")
                    );
                    cx.err(h.span(), msg);
                }
                scope.hubs.push(h_name);
            }
            for c in &s.clusters {
                let c_name = c.trim().to_string();
                if c_name != "*" && !cluster_names.contains(&c_name) {
                    let msg = format!(
                        "roles.{name}.scope.clusters: cluster `{c_name}` is not defined under `clusters`{}",
                        suggest(&c_name, cluster_names.iter().map(String::as_str), "clusters")
                    );
                    cx.err(c.span(), msg);
                }
                scope.clusters.push(c_name);
            }
        }
        cfg.roles.insert(
            name,
            Role {
                run,
                approve,
                scope,
            },
        );
    }

    // People.
    let mut ids = HashSet::new();
    let mut platform_ids: HashMap<(&'static str, String), String> = HashMap::new();
    for p in &raw.people {
        let Some(id) = cx.name("people[].id", &p.id) else {
            continue;
        };
        if !ids.insert(id.clone()) {
            cx.err(
                p.id.span(),
                format!("person `{id}` is defined twice; people ids must be unique"),
            );
            continue;
        }
        let mut ident = |cx: &mut Ctx<'_>,
                         platform: &'static str,
                         v: &Option<S>|
         -> Option<String> {
            let v = v.as_ref()?;
            let s = cx.name(platform, v)?;
            let key = if platform == "github" {
                s.to_ascii_lowercase()
            } else {
                s.clone()
            };
            if let Some(other) = platform_ids.insert((platform, key), id.clone()) {
                cx.err(
                    v.span(),
                    format!("{platform} id `{s}` of `{id}` is already used by `{other}`; each {platform} identity belongs to one person"),
                );
            }
            Some(s)
        };
        let slack = ident(&mut cx, "slack", &p.slack);
        let github = ident(&mut cx, "github", &p.github);
        let discord = ident(&mut cx, "discord", &p.discord);
        let name = p.name.as_ref().and_then(|n| cx.string("name", n));
        let kube_user = p.kube_user.as_ref().and_then(|n| cx.name("kube_user", n));
        let roles = cx.role_refs(&format!("people.{id}.roles"), &p.roles, &role_names);
        cfg.people.push(Person {
            id,
            name,
            slack,
            github,
            discord,
            kube_user,
            roles,
        });
    }

    // Policy.
    if let Some(pol) = &raw.policy {
        if let Some(ttl) = &pol.approval_ttl {
            if let Some(s) = cx.string("policy.approval_ttl", ttl) {
                match humantime::parse_duration(s.trim()) {
                    Ok(d) if !d.is_zero() => cfg.policy.approval_ttl = d,
                    _ => cx.err(
                        ttl.span(),
                        format!("policy.approval_ttl: `{s}` is not a positive duration; write e.g. `30m` or `1h`"),
                    ),
                }
            }
        }
        cfg.policy.exempt_from_approval =
            cx.patterns("policy.exempt_from_approval", &pol.exempt_from_approval);
        if let Some(a) = &pol.always_allowed {
            cfg.policy.always_allowed = cx.patterns("policy.always_allowed", a);
        }
    }

    cfg.slack = slack(&mut cx, raw.slack.as_ref());
    cfg.github = github(&mut cx, raw.github.as_ref(), &role_names);
    cfg.discord = discord(&mut cx, raw.discord.as_ref(), &role_names);

    cfg.pattern_sites = std::mem::take(&mut cx.patterns);
    cx.diags.into_result(cfg)
}

const SECTIONS: &str = "listen, audit, commands, playbooks, clusters, hubs, discover_hubs, people, roles, policy, slack, github, discord";

/// Parse the YAML and deserialize it section by section (lists item by
/// item), collecting every type error. A syntax error ends the parse.
fn parse_raw(cx: &mut Ctx<'_>, text: &str) -> Result<RawConfig, Diagnostics> {
    let node = match marked_yaml::parse_yaml(0, text) {
        Ok(n) => n,
        // Let the shared loader phrase the syntax error with its position.
        Err(_) => {
            return Err(
                crate::yaml::parse_str::<serde::de::IgnoredAny>(cx.file, text)
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
            "discover_hubs" => raw.discover_hubs = cx.node(k, value).unwrap_or(false),
            "people" => raw.people = cx.items(k, value),
            "roles" => raw.roles = cx.entries(k, value),
            "policy" => raw.policy = cx.node(k, value),
            "slack" => raw.slack = cx.node(k, value),
            "github" => raw.github = cx.node(k, value),
            "discord" => raw.discord = cx.node(k, value),
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

fn section_span<T>(v: Option<&Spanned<T>>) -> Span {
    v.map(|v| *v.span()).unwrap_or_else(Span::new_blank)
}

fn slack(cx: &mut Ctx<'_>, raw: Option<&Spanned<RawSlack>>) -> Option<SlackConfig> {
    let env_vars = ["SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"];
    let active = is_secret_env_set(cx, &env_vars)
        || raw.is_some_and(|r| {
            r.signing_secret.is_some() || r.bot_token.is_some() || r.app_token.is_some()
        });
    if raw.is_none() && !active {
        return None;
    }
    let span = section_span(raw);
    let r = raw.map(|r| &**r);
    let before = cx.diags.0.len();
    let signing_secret = cx.secret_or_env(
        "slack.signing_secret",
        r.and_then(|r| r.signing_secret.as_ref()),
        "SLACK_SIGNING_SECRET",
    );
    let bot_token = cx.secret_or_env(
        "slack.bot_token",
        r.and_then(|r| r.bot_token.as_ref()),
        "SLACK_BOT_TOKEN",
    );
    let app_token = cx.secret_or_env(
        "slack.app_token",
        r.and_then(|r| r.app_token.as_ref()),
        "SLACK_APP_TOKEN",
    );
    let api_url = cx.api_url(
        "slack.api_url",
        r.and_then(|r| r.api_url.as_ref()),
        "SLACK_API_URL",
        "https://slack.com/api",
    );
    if active && signing_secret.is_none() && app_token.is_none() && cx.diags.0.len() == before {
        let msg = "slack: needs `signing_secret` (HTTP endpoints) or `app_token` (Socket Mode); set SLACK_SIGNING_SECRET or SLACK_APP_TOKEN";
        cx.err(&span, msg);
    }
    let mut channels = BTreeMap::new();
    if let Some(r) = r {
        for (ch, pats) in in_file_order(&r.channels) {
            let id = ch.trim().to_string();
            let p = cx.patterns(&format!("slack.channels.{id}"), pats);
            if channels.insert(id.clone(), p).is_some() {
                cx.err(ch.span(), format!("slack channel `{id}` is listed twice"));
            }
        }
    }
    if !active {
        return None;
    }
    Some(SlackConfig {
        signing_secret,
        bot_token,
        app_token,
        api_url,
        channels,
    })
}

fn github(
    cx: &mut Ctx<'_>,
    raw: Option<&Spanned<RawGithub>>,
    roles: &HashSet<String>,
) -> Option<GithubConfig> {
    let active = is_secret_env_set(cx, &["GITHUB_WEBHOOK_SECRET", "GITHUB_TOKEN"])
        || raw.is_some_and(|r| {
            r.webhook_secret.is_some()
                || r.token.is_some()
                || r.app_id.is_some()
                || r.private_key_file.is_some()
        });
    if raw.is_none() && !active {
        return None;
    }
    let span = section_span(raw);
    let r = raw.map(|r| &**r);
    let before = cx.diags.0.len();
    let webhook_secret = cx.secret_or_env(
        "github.webhook_secret",
        r.and_then(|r| r.webhook_secret.as_ref()),
        "GITHUB_WEBHOOK_SECRET",
    );
    let token = cx.secret_or_env(
        "github.token",
        r.and_then(|r| r.token.as_ref()),
        "GITHUB_TOKEN",
    );
    let app_id = cx
        .string_or_env("github.app_id", r.and_then(|r| r.app_id.as_ref()), "GITHUB_APP_ID")
        .and_then(|(s, sp)| match s.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                cx.err(&sp, format!("github.app_id: `{s}` is not a number; write the App ID from the app's settings page"));
                None
            }
        });
    let private_key_file = cx
        .string_or_env(
            "github.private_key_file",
            r.and_then(|r| r.private_key_file.as_ref()),
            "GITHUB_PRIVATE_KEY_FILE",
        )
        .map(|(p, span)| {
            if span.start().is_none() {
                // From the environment: relative to the working directory.
                PathBuf::from(p.trim())
            } else {
                expand::resolve_path(p.trim(), cx.base_dir, cx.env)
            }
        });
    let api_url = cx.api_url(
        "github.api_url",
        r.and_then(|r| r.api_url.as_ref()),
        "GITHUB_API_URL",
        "https://api.github.com",
    );
    let errors_so_far = !active || cx.diags.0.len() > before;
    if webhook_secret.is_none() && !errors_so_far {
        cx.err(
            &span,
            "github: needs `webhook_secret` to verify webhooks; set GITHUB_WEBHOOK_SECRET",
        );
    }
    if app_id.is_some() != private_key_file.is_some() && !errors_so_far {
        let at = r
            .and_then(|r| r.app_id.as_ref().or(r.private_key_file.as_ref()))
            .map(|v| *v.span())
            .unwrap_or(span);
        cx.err(&at, "github: `app_id` and `private_key_file` go together (GITHUB_APP_ID, GITHUB_PRIVATE_KEY_FILE); set both or neither");
    }
    if token.is_none() && app_id.is_none() && private_key_file.is_none() && !errors_so_far {
        cx.err(&span, "github: needs a way to call the API: `token` (GITHUB_TOKEN) or `app_id` + `private_key_file`");
    }
    let mut out = GithubConfig {
        webhook_secret: webhook_secret.unwrap_or_else(|| SecretString::from(String::new())),
        token,
        app_id,
        private_key_file,
        api_url,
        prefix: "/ops".to_string(),
        run_on_edit: false,
        max_commands_per_comment: 5,
        teams: BTreeMap::new(),
        min_permission: None,
        triage_labels: Vec::new(),
    };
    if let Some(r) = r {
        if let Some(p) = &r.prefix {
            if let Some(s) = cx.name("github.prefix", p) {
                if s.contains(char::is_whitespace) {
                    cx.err(
                        p.span(),
                        format!(
                            "github.prefix: `{s}` contains spaces; write one word such as `/ops`"
                        ),
                    );
                }
                out.prefix = s;
            }
        }
        out.run_on_edit = r.run_on_edit;
        if let Some(m) = &r.max_commands_per_comment {
            if **m == 0 {
                cx.err(
                    m.span(),
                    "github.max_commands_per_comment: must be at least 1",
                );
            } else {
                out.max_commands_per_comment = **m;
            }
        }
        for (team, rs) in in_file_order(&r.teams) {
            let t = team.trim().to_string();
            let parts: Vec<&str> = t.split('/').collect();
            if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                cx.err(
                    team.span(),
                    format!("github.teams: `{t}` is not a team; write `org/team-slug`"),
                );
            }
            let granted = cx.role_refs(&format!("github.teams.{t}"), rs, roles);
            out.teams.insert(t, granted);
        }
        if let Some(m) = &r.min_permission {
            match RepoPermission::parse(m.trim()) {
                Some(p) => out.min_permission = Some(p),
                None => cx.err(
                    m.span(),
                    format!("github.min_permission: `{}` is not a permission; write one of read, triage, write, maintain, admin", m.as_str()),
                ),
            }
        }
        out.triage_labels = r
            .triage_labels
            .iter()
            .filter_map(|l| cx.name("github.triage_labels", l))
            .collect();
    }
    active.then_some(out)
}

fn discord(
    cx: &mut Ctx<'_>,
    raw: Option<&Spanned<RawDiscord>>,
    roles: &HashSet<String>,
) -> Option<DiscordConfig> {
    let active = is_secret_env_set(cx, &["DISCORD_PUBLIC_KEY", "DISCORD_BOT_TOKEN"])
        || raw.is_some_and(|r| {
            r.public_key.is_some() || r.bot_token.is_some() || r.application_id.is_some()
        });
    if raw.is_none() && !active {
        return None;
    }
    let span = section_span(raw);
    let r = raw.map(|r| &**r);
    let public_key = cx.string_or_env(
        "discord.public_key",
        r.and_then(|r| r.public_key.as_ref()),
        "DISCORD_PUBLIC_KEY",
    );
    let application_id = cx.string_or_env(
        "discord.application_id",
        r.and_then(|r| r.application_id.as_ref()),
        "DISCORD_APPLICATION_ID",
    );
    let bot_token = cx.secret_or_env(
        "discord.bot_token",
        r.and_then(|r| r.bot_token.as_ref()),
        "DISCORD_BOT_TOKEN",
    );
    let api_url = cx.api_url(
        "discord.api_url",
        r.and_then(|r| r.api_url.as_ref()),
        "DISCORD_API_URL",
        "https://discord.com/api/v10",
    );
    let public_key = match public_key {
        Some((k, sp)) => {
            let k = k.trim().to_string();
            if k.len() != 64 || !k.chars().all(|c| c.is_ascii_hexdigit()) {
                let sp = if sp.start().is_some() { sp } else { span };
                cx.err(&sp, "discord.public_key: expected the application's 64-character hex public key (DISCORD_PUBLIC_KEY), from the Developer Portal");
            }
            k
        }
        None if !active => String::new(),
        None => {
            cx.err(
                &span,
                "discord: needs `public_key` to verify interactions; set DISCORD_PUBLIC_KEY",
            );
            String::new()
        }
    };
    let application_id = match application_id {
        Some((a, sp)) => {
            let a = a.trim().to_string();
            if a.is_empty() || !a.chars().all(|c| c.is_ascii_digit()) {
                let sp = if sp.start().is_some() { sp } else { span };
                cx.err(&sp, format!("discord.application_id: `{a}` is not an id; write the numeric Application ID (DISCORD_APPLICATION_ID)"));
            }
            a
        }
        None if !active => String::new(),
        None => {
            cx.err(
                &span,
                "discord: needs `application_id`; set DISCORD_APPLICATION_ID",
            );
            String::new()
        }
    };
    let mut out_roles = BTreeMap::new();
    if let Some(r) = r {
        for (id, rs) in in_file_order(&r.roles) {
            let i = id.trim().to_string();
            if i.is_empty() || !i.chars().all(|c| c.is_ascii_digit()) {
                cx.err(id.span(), format!("discord.roles: `{i}` is not a Discord role id; write the numeric id (quoted)"));
            }
            let granted = cx.role_refs(&format!("discord.roles.{i}"), rs, roles);
            out_roles.insert(i, granted);
        }
    }
    if !active {
        return None;
    }
    Some(DiscordConfig {
        public_key,
        application_id,
        bot_token,
        api_url,
        roles: out_roles,
    })
}
