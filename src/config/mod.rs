//! `opsbot.yaml`: clusters, hubs, people, roles, policy, platform settings and
//! the audit store, loaded once into types.
//!
//! Owns the file format (see `examples/opsbot.yaml`), `${VAR}`/`${file:PATH}`
//! substitution, the DESIGN §4 environment overrides, and the cross checks
//! that need only the config itself (unique names, known clusters and roles).
//! References to commands are checked by `opsbot check`, which also knows the
//! grammar, through [`Config::command_patterns`].

mod expand;
mod load;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::diagnostic;

pub use crate::chat::model::Platform;
pub use load::schedules::parse_cron;

/// The whole, validated `opsbot.yaml` after substitution and env overrides.
///
/// `Serialize` writes the file's own shape with every secret (tokens, the
/// audit URL's password) as [`crate::redact::PLACEHOLDER`]: this is what
/// `demo --print-config` prints, so the printed schema cannot drift from the
/// typed one. There is deliberately no way to serialize a secret in clear.
#[derive(Clone, Serialize)]
pub struct Config {
    /// The file it was loaded from (or the name given to [`Config::from_str`]).
    #[serde(skip)]
    pub path: PathBuf,
    /// Where the HTTP server listens (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// `sqlite://ABSOLUTE_PATH` or `postgres://...` (`OPSBOT_AUDIT_URL` wins).
    #[serde(rename = "audit", serialize_with = "render::audit_section")]
    pub audit_url: String,
    /// `audit.anchor`: where and how often `serve` records the chain head.
    #[serde(skip)]
    pub audit_anchor: Option<AnchorSchedule>,
    /// `audit.lease` (default 30s, as `audit::DEFAULT_LEASE`): a process sharing the audit store takes
    /// over another's runs only once it has missed heartbeats this long.
    #[serde(skip)]
    pub audit_lease: std::time::Duration,
    /// Directory of `commands/*.yaml` (default `<config dir>/commands`).
    #[serde(rename = "commands", serialize_with = "render::path")]
    pub commands_dir: PathBuf,
    /// Directory of `playbooks/*.yaml` (default `<config dir>/playbooks`).
    #[serde(rename = "playbooks", serialize_with = "render::path")]
    pub playbooks_dir: PathBuf,
    /// No `commands:` was written and there is no `commands/` beside the
    /// config: the pack embedded in the binary is used (what a container
    /// image with only a config file expects).
    #[serde(skip)]
    pub commands_builtin: bool,
    /// The same for `playbooks:`.
    #[serde(skip)]
    pub playbooks_builtin: bool,
    pub clusters: Vec<ClusterConfig>,
    /// Hubs declared in the file; discovered ones are added at runtime by others.
    pub hubs: Vec<HubConfig>,
    /// Discover hubs by labels `app=jupyterhub,component=hub` at runtime
    /// (default: on when the file declares no `hubs:`).
    pub discover_hubs: bool,
    pub people: Vec<Person>,
    pub roles: BTreeMap<String, Role>,
    pub policy: Policy,
    /// What one HTTP client may hold of `serve` (`http:`).
    pub http: HttpLimits,
    /// Present when Slack has credentials (in the file or `SLACK_*` env).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackConfig>,
    /// Present when GitHub has credentials (in the file or `GITHUB_*` env).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubConfig>,
    /// Present when Discord has credentials (in the file or `DISCORD_*` env).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord: Option<DiscordConfig>,
    /// `alertmanager:`: the receiver at `POST /alertmanager/webhook` and
    /// its routes; present when the section is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<AlertmanagerConfig>,
    /// `schedules:`: read-only commands run on a cron schedule, posted to
    /// a Slack channel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    /// Every command pattern the file mentions, with its position, so
    /// `opsbot check` can cross-check them against the grammar.
    #[serde(skip)]
    pub pattern_sites: Vec<PatternSite>,
}

/// `audit.anchor: { every, to }`: an external copy of the chain head, so a
/// truncated tail is caught by `opsbot audit verify --anchor @FILE` even when
/// the database's own head row was rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorSchedule {
    pub every: std::time::Duration,
    pub to: PathBuf,
}

/// One command pattern written in the config and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternSite {
    pub pattern: String,
    pub file: String,
    /// 1-based; 0 when the pattern came from a default.
    pub line: usize,
    pub column: usize,
}

/// A named Kubernetes cluster and how to reach it (serialized flat, as
/// written in the file: `name` plus `kubeconfig`/`context` or `in_cluster`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub name: String,
    pub source: ClusterSource,
    /// The Prometheus that scrapes this cluster, for `prometheus.*` steps.
    pub prometheus: Option<PrometheusConfig>,
    /// The most objects (all kinds together) the watch cache of `serve`
    /// and `demo` keeps for this cluster; a kind that would go above it is
    /// listed from the API server instead.
    pub watch_cache_max_objects: usize,
}

/// `clusters[].prometheus`: where the cluster's Prometheus answers its HTTP
/// API and how opsbot authenticates to it.
#[derive(Debug, Clone, Serialize)]
pub struct PrometheusConfig {
    pub url: String,
    /// Sent as `Authorization: Bearer …` when set.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "render::optional_secret"
    )]
    pub token: Option<SecretString>,
    /// How long one query may take before the step fails, naming this
    /// Prometheus.
    #[serde(serialize_with = "render::duration")]
    pub timeout: Duration,
}

impl PrometheusConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
}

/// Two configs are the same Prometheus when URL, token and timeout agree
/// (`SecretString` has no `PartialEq` of its own, on purpose).
impl PartialEq for PrometheusConfig {
    fn eq(&self, o: &Self) -> bool {
        self.url == o.url
            && self.timeout == o.timeout
            && self.token.as_ref().map(|t| t.expose_secret().to_string())
                == o.token.as_ref().map(|t| t.expose_secret().to_string())
    }
}

impl Eq for PrometheusConfig {}

/// How a cluster's client is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSource {
    /// A kubeconfig file (`None`: the default lookup, `KUBECONFIG` or
    /// `~/.kube/config`) and context (`None`: its current context).
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    /// The service account of the pod opsbot runs in.
    InCluster,
}

/// `alertmanager:`: how Alertmanager authenticates to opsbot, who alert-
/// started runs act as, and which alerts run which read-only command where.
#[derive(Clone, Debug, Serialize)]
pub struct AlertmanagerConfig {
    /// The bearer token Alertmanager sends (`http_config.authorization`);
    /// `OPSBOT_ALERTMANAGER_TOKEN` wins over the file.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "render::optional_secret"
    )]
    pub token: Option<SecretString>,
    /// Or the user and password of `http_config.basic_auth`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// The person (`people[].id`) alert-started runs are requested as
    /// (default `alertmanager`); give it a read-only role.
    pub person: String,
    /// Where a route without its own destination posts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_channel: Option<String>,
    /// `owner/name`: one issue per alert group there, for routes without
    /// their own destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
    /// A Discord channel id: one message per alert group there, for routes
    /// without their own destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord_channel: Option<String>,
    /// Diagnosis runs started per minute at most; groups past it are
    /// summarised in one message instead of run.
    pub max_runs_per_minute: u32,
    /// Larger webhook bodies are refused (413).
    pub max_body_bytes: usize,
    /// Whether the shipped routes for kube-prometheus alerts follow the
    /// file's own (default true).
    pub builtin_routes: bool,
    /// The file's routes, tried in order before the shipped ones.
    pub routes: Vec<AlertRoute>,
}

/// One entry of `schedules:`.
#[derive(Clone, Debug, Serialize)]
pub struct Schedule {
    /// Unique among the schedules; names the thread and the audit place.
    pub name: String,
    /// When, in cron syntax (five fields, or six with seconds first;
    /// `@daily` and the like), in UTC.
    pub cron: String,
    /// The read-only command to run (`fleet status`).
    pub command: String,
    /// Where its thread goes.
    pub slack_channel: String,
    /// The person (`people[].id`) its runs are requested as (default
    /// `scheduler`), so they are authorised and audited as it.
    pub person: String,
}

/// `alertmanager.basic_auth`.
#[derive(Clone, Debug, Serialize)]
pub struct BasicAuth {
    pub username: String,
    #[serde(serialize_with = "render::secret")]
    pub password: SecretString,
}

/// One route: the labels an alert must have, the read-only command it
/// runs (a template over `labels`, `annotations`, `hub` and `user`), and
/// where the thread goes.
#[derive(Clone, Debug, Serialize)]
pub struct AlertRoute {
    /// Labels that must equal these values.
    #[serde(rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub matchers: BTreeMap<String, String>,
    /// Labels that must match these regular expressions (anchored).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub match_re: BTreeMap<String, String>,
    /// `triage {{ hub }} {{ user }}`, `pending {{ labels.namespace }}`.
    pub command: String,
    /// The route's own destinations; when it names none, the section's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord_channel: Option<String>,
}

/// A JupyterHub deployment that commands can target by name.
#[derive(Debug, Clone, Serialize)]
pub struct HubConfig {
    pub name: String,
    /// Name of a [`ClusterConfig`].
    pub cluster: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jupyterhub_api: Option<JupyterHubApi>,
}

/// The hub's REST API, for commands that ask JupyterHub itself.
#[derive(Debug, Clone, Serialize)]
pub struct JupyterHubApi {
    pub url: String,
    #[serde(serialize_with = "render::secret")]
    pub token: SecretString,
}

/// Someone opsbot knows, with the identities they use on each platform.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Person {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Slack user id (`U012ABCDEF`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    /// GitHub login (compared case-insensitively).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
    /// Discord user id (a snowflake, as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord: Option<String>,
    /// Kubernetes user to impersonate, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_user: Option<String>,
    pub roles: Vec<String>,
}

impl Person {
    /// This person with extra roles granted by a platform (GitHub team,
    /// Discord role), so `authz` sees every role they hold; no duplicates.
    pub fn with_extra_roles<'a>(&self, extra: impl IntoIterator<Item = &'a str>) -> Person {
        let mut p = self.clone();
        for r in extra {
            if !p.roles.iter().any(|x| x == r) {
                p.roles.push(r.to_string());
            }
        }
        p
    }
}

/// What a role may run and approve, and where.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Role {
    /// Command patterns: `"hub restart"`, `"hub *"` or `"*"`.
    pub run: Vec<String>,
    pub approve: Vec<String>,
    /// Left out when printed if it is the default (anywhere).
    #[serde(skip_serializing_if = "Scope::is_anywhere")]
    pub scope: Scope,
}

/// Where a role applies. An empty list or `"*"` means anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Scope {
    pub hubs: Vec<String>,
    pub clusters: Vec<String>,
}

impl Scope {
    /// True for the default scope (no restriction written).
    fn is_anywhere(&self) -> bool {
        *self == Scope::default()
    }
}

/// Rules that apply to everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// An approval request expires after this long (default 1h).
    #[serde(serialize_with = "render::duration")]
    pub approval_ttl: Duration,
    /// Mutating commands that need no second person.
    pub exempt_from_approval: Vec<String>,
    /// Read-only commands anyone identified may run (default `help`).
    pub always_allowed: Vec<String>,
}

/// `http:`: limits on what one client may hold of the server, so a slow or
/// hostile client cannot pin connections. `OPSBOT_HTTP_HEADER_TIMEOUT`,
/// `OPSBOT_HTTP_REQUEST_TIMEOUT` and `OPSBOT_HTTP_MAX_CONNECTIONS` win over
/// the file (a Helm value or a quick override).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpLimits {
    /// Time to send the whole request head (default 10s).
    #[serde(serialize_with = "render::duration")]
    pub header_timeout: Duration,
    /// Time for a request to be answered (default 30s).
    #[serde(serialize_with = "render::duration")]
    pub request_timeout: Duration,
    /// Connections served at once; more wait in the backlog (default 512).
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            approval_ttl: Duration::from_secs(3600),
            exempt_from_approval: Vec::new(),
            always_allowed: vec!["help".to_string()],
        }
    }
}

/// Slack app settings.
#[derive(Debug, Clone, Serialize)]
pub struct SlackConfig {
    /// Verifies HTTP requests (`SLACK_SIGNING_SECRET`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "render::optional_secret"
    )]
    pub signing_secret: Option<SecretString>,
    /// `xoxb-` token for Web API calls (`SLACK_BOT_TOKEN`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "render::optional_secret"
    )]
    pub bot_token: Option<SecretString>,
    /// `xapp-` token; when set, Socket Mode is used (`SLACK_APP_TOKEN`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "render::optional_secret"
    )]
    pub app_token: Option<SecretString>,
    /// Web API base URL (`SLACK_API_URL`, default `https://slack.com/api`).
    pub api_url: String,
    /// Channel id → command patterns allowed there. Channels not listed may
    /// run anything their people may; an empty map means no restriction.
    pub channels: BTreeMap<String, Vec<String>>,
    /// Channels in incident mode (`slack.channels.ID.incident: true`): a
    /// run's messages there are posted at the top level, so they show in
    /// the channel's own timeline while people work an incident, instead
    /// of being folded into threads.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub incident_channels: BTreeSet<String>,
}

/// GitHub app/webhook settings.
#[derive(Debug, Clone, Serialize)]
pub struct GithubConfig {
    /// Verifies `X-Hub-Signature-256` (`GITHUB_WEBHOOK_SECRET`).
    #[serde(serialize_with = "render::secret")]
    pub webhook_secret: SecretString,
    /// Plain token auth (`GITHUB_TOKEN`), the fallback to app auth.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "render::optional_secret"
    )]
    pub token: Option<SecretString>,
    /// GitHub App id (`GITHUB_APP_ID`); set together with `private_key_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<u64>,
    /// PEM file of the app's private key (`GITHUB_PRIVATE_KEY_FILE`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "render::optional_path"
    )]
    pub private_key_file: Option<PathBuf>,
    /// REST base URL (`GITHUB_API_URL`, default `https://api.github.com`).
    pub api_url: String,
    /// A comment line starting with this runs a command (default `/ops`).
    pub prefix: String,
    /// Run command lines added by an edit (never re-running earlier ones).
    pub run_on_edit: bool,
    /// At most this many command lines per comment (default 5).
    pub max_commands_per_comment: usize,
    /// `org/team` → roles granted to its members.
    pub teams: BTreeMap<String, Vec<String>>,
    /// Minimum repository permission a commenter needs, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_permission: Option<RepoPermission>,
    /// Add the labels a finished run names (a playbook's `labels:`; `triage`
    /// names its diagnosis, `triage: image-pull`) to the issue or pull request
    /// it ran from, so tickets can be sorted by cause. Default true.
    pub triage_labels: bool,
}

impl GithubConfig {
    /// The opsbot roles granted by membership of these `org/team` slugs
    /// (compared case-insensitively), without duplicates.
    pub fn roles_for_teams<'a>(&'a self, teams: &[String]) -> Vec<&'a str> {
        granted(
            self.teams
                .iter()
                .filter(|(t, _)| teams.iter().any(|m| m.eq_ignore_ascii_case(t))),
        )
    }
}

impl DiscordConfig {
    /// The opsbot roles granted by these Discord role ids, without duplicates.
    pub fn roles_for_role_ids<'a>(&'a self, role_ids: &[String]) -> Vec<&'a str> {
        granted(self.roles.iter().filter(|(id, _)| role_ids.contains(id)))
    }
}

fn granted<'a>(entries: impl Iterator<Item = (&'a String, &'a Vec<String>)>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for (_, roles) in entries {
        for r in roles {
            if !out.contains(&r.as_str()) {
                out.push(r);
            }
        }
    }
    out
}

/// GitHub repository permission levels, weakest first (serialized as
/// [`RepoPermission::word`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoPermission {
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl RepoPermission {
    /// Parse GitHub's word for the level (`pull`/`push` accepted as aliases).
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "read" | "pull" => RepoPermission::Read,
            "triage" => RepoPermission::Triage,
            "write" | "push" => RepoPermission::Write,
            "maintain" => RepoPermission::Maintain,
            "admin" => RepoPermission::Admin,
            _ => return None,
        })
    }

    /// GitHub's word for the level.
    pub fn word(self) -> &'static str {
        match self {
            RepoPermission::Read => "read",
            RepoPermission::Triage => "triage",
            RepoPermission::Write => "write",
            RepoPermission::Maintain => "maintain",
            RepoPermission::Admin => "admin",
        }
    }
}

/// Discord application settings.
#[derive(Debug, Clone, Serialize)]
pub struct DiscordConfig {
    /// Ed25519 public key (hex) that verifies interactions; public, not secret.
    pub public_key: String,
    /// The numeric Application ID, checked once here (printed quoted, as
    /// Discord writes snowflakes).
    #[serde(serialize_with = "render::as_string")]
    pub application_id: u64,
    /// Bot token for messages outside interaction responses (`DISCORD_BOT_TOKEN`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "render::optional_secret"
    )]
    pub bot_token: Option<SecretString>,
    /// REST base URL (`DISCORD_API_URL`, default `https://discord.com/api/v10`).
    pub api_url: String,
    /// Discord role id → opsbot roles granted to members with it.
    pub roles: BTreeMap<String, Vec<String>>,
}

impl Default for Config {
    /// An empty config (no people, no clusters) with every default applied;
    /// useful as a base for `..Default::default()` in tests and the demo.
    fn default() -> Self {
        Config {
            path: PathBuf::from("opsbot.yaml"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            audit_url: "sqlite://opsbot.db".to_string(),
            audit_anchor: None,
            audit_lease: std::time::Duration::from_secs(30),
            commands_dir: PathBuf::from("commands"),
            playbooks_dir: PathBuf::from("playbooks"),
            commands_builtin: false,
            playbooks_builtin: false,
            clusters: Vec::new(),
            hubs: Vec::new(),
            discover_hubs: false,
            people: Vec::new(),
            roles: BTreeMap::new(),
            policy: Policy::default(),
            http: HttpLimits::default(),
            slack: None,
            github: None,
            discord: None,
            alertmanager: None,
            schedules: Vec::new(),
            pattern_sites: Vec::new(),
        }
    }
}

impl Config {
    /// Read and validate `path`; relative paths inside resolve against its
    /// directory. Every problem is reported, each at its `file:line:col`.
    pub fn load(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, diagnostic::Diagnostics> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            diagnostic::Diagnostic::file(&name, format!("cannot read the config: {e}"))
        })?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Config::from_str(&name, &text, &base, env)
    }

    /// Validate config `text` (named `file` in messages) whose relative paths
    /// resolve against `base_dir`. The demo and tests use this directly.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(
        file: &str,
        text: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, diagnostic::Diagnostics> {
        load::build(file, text, base_dir, env)
    }

    /// The person with this opsbot id.
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    /// The person known on `platform` by `platform_id` (GitHub logins compare
    /// case-insensitively; on the console the id is the opsbot id).
    pub fn person_by(&self, platform: Platform, platform_id: &str) -> Option<&Person> {
        self.people.iter().find(|p| match platform {
            Platform::Slack => p.slack.as_deref() == Some(platform_id),
            Platform::Github => p
                .github
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(platform_id)),
            Platform::Discord => p.discord.as_deref() == Some(platform_id),
            Platform::Console | Platform::Alertmanager | Platform::Schedule => p.id == platform_id,
        })
    }

    /// The declared hub with this name.
    pub fn hub(&self, name: &str) -> Option<&HubConfig> {
        self.hubs.iter().find(|h| h.name == name)
    }

    /// The declared cluster with this name.
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The effective config as YAML for people to read (`demo --print-config`),
    /// every secret shown as [`crate::redact::PLACEHOLDER`] (see the
    /// `Serialize` impl).
    pub fn to_yaml_redacted(&self) -> String {
        render::to_yaml_redacted(self)
    }

    /// Every secret value in clear, longest first, so others can scrub text
    /// before it reaches a log line, an audit record or a chat.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |s: &SecretString| {
            let v = s.expose_secret();
            if !v.is_empty() {
                out.push(v.to_string());
            }
        };
        for h in &self.hubs {
            if let Some(api) = &h.jupyterhub_api {
                add(&api.token);
            }
        }
        for c in &self.clusters {
            if let Some(t) = c.prometheus.as_ref().and_then(|p| p.token.as_ref()) {
                add(t);
            }
        }
        if let Some(s) = &self.slack {
            for t in [&s.signing_secret, &s.bot_token, &s.app_token]
                .into_iter()
                .flatten()
            {
                add(t);
            }
        }
        if let Some(g) = &self.github {
            add(&g.webhook_secret);
            if let Some(t) = &g.token {
                add(t);
            }
        }
        if let Some(d) = &self.discord {
            if let Some(t) = &d.bot_token {
                add(t);
            }
        }
        if let Some(a) = &self.alertmanager {
            if let Some(t) = &a.token {
                add(t);
            }
            if let Some(b) = &a.basic_auth {
                add(&b.password);
            }
        }
        out.extend(
            render::url_passwords(&self.audit_url)
                .into_iter()
                .map(str::to_string),
        );
        out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        out.dedup();
        out
    }

    /// Every command pattern that roles, policy and channel restrictions
    /// refer to, as `(pattern, file, line, column)`, for `opsbot check`.
    pub fn command_patterns(&self) -> Vec<(String, String, usize, usize)> {
        self.pattern_sites
            .iter()
            .map(|s| (s.pattern.clone(), s.file.clone(), s.line, s.column))
            .collect()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("listen", &self.listen)
            .field("audit_url", &render::redact_url(&self.audit_url))
            .field("commands_dir", &self.commands_dir)
            .field("playbooks_dir", &self.playbooks_dir)
            .field("clusters", &self.clusters)
            .field("hubs", &self.hubs)
            .field("discover_hubs", &self.discover_hubs)
            .field("people", &self.people)
            .field("roles", &self.roles)
            .field("policy", &self.policy)
            .field("slack", &self.slack)
            .field("github", &self.github)
            .field("discord", &self.discord)
            .field("alertmanager", &self.alertmanager)
            .finish_non_exhaustive()
    }
}
