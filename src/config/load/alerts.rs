//! The `alertmanager:` section: how Alertmanager authenticates, who the
//! runs it starts act as, the storm limits, and the routes (checked here
//! for what the config alone can tell: a regex that compiles, a known
//! person; the commands are checked against the grammar by the app).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::{Ctx, S};
use crate::config::{AlertRoute, AlertmanagerConfig, BasicAuth, Person};
use crate::diagnostic::Spanned;

/// Default for `alertmanager.max_runs_per_minute`.
pub const DEFAULT_MAX_RUNS_PER_MINUTE: u32 = 10;
/// Default for `alertmanager.max_body_bytes`: Alertmanager's own payloads
/// for a group of a few hundred alerts stay well below this.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlertmanager {
    token: Option<S>,
    basic_auth: Option<RawBasicAuth>,
    person: Option<S>,
    slack_channel: Option<S>,
    github: Option<S>,
    discord_channel: Option<S>,
    max_runs_per_minute: Option<Spanned<u32>>,
    max_body_bytes: Option<Spanned<usize>>,
    builtin_routes: Option<bool>,
    #[serde(default)]
    routes: Vec<Spanned<RawRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: S,
    password: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    #[serde(default, rename = "match")]
    matchers: HashMap<String, String>,
    #[serde(default)]
    match_re: HashMap<String, String>,
    command: S,
    slack_channel: Option<S>,
    github: Option<S>,
    discord_channel: Option<S>,
}

pub(super) fn alertmanager(
    cx: &mut Ctx<'_>,
    raw: Option<&Spanned<RawAlertmanager>>,
    people: &[Person],
) -> Option<AlertmanagerConfig> {
    let raw = raw?;
    let span = *raw.span();
    let token = cx.secret_or_env(
        "alertmanager.token",
        raw.token.as_ref(),
        "OPSBOT_ALERTMANAGER_TOKEN",
    );
    let basic_auth = raw.basic_auth.as_ref().and_then(|b| {
        let username = cx.name("alertmanager.basic_auth.username", &b.username)?;
        let password = cx.secret("alertmanager.basic_auth.password", &b.password)?;
        Some(BasicAuth { username, password })
    });
    if token.is_none() && basic_auth.is_none() && raw.basic_auth.is_none() && raw.token.is_none() {
        cx.err(
            &span,
            "alertmanager: set `token` (Alertmanager's `authorization: { type: Bearer }`) or `basic_auth`, or OPSBOT_ALERTMANAGER_TOKEN; the receiver takes no unauthenticated alerts",
        );
    }
    let person = match &raw.person {
        Some(p) => cx.name("alertmanager.person", p),
        None => Some("alertmanager".to_string()),
    }
    .unwrap_or_default();
    if !person.is_empty() && !people.iter().any(|p| p.id == person) {
        let at = raw.person.as_ref().map(|p| *p.span()).unwrap_or(span);
        cx.err(
            &at,
            format!("alertmanager.person `{person}` is not in `people:`; add `- {{ id: {person}, roles: [<a read-only role>] }}` so alert-started runs are authorised and audited as it"),
        );
    }
    let slack_channel = raw
        .slack_channel
        .as_ref()
        .and_then(|c| cx.name("alertmanager.slack_channel", c));
    let github = raw
        .github
        .as_ref()
        .and_then(|r| github_repo(cx, "alertmanager.github", r));
    let discord_channel = raw
        .discord_channel
        .as_ref()
        .and_then(|c| discord_channel_id(cx, "alertmanager.discord_channel", c));
    let section_has_destination =
        raw.slack_channel.is_some() || raw.github.is_some() || raw.discord_channel.is_some();
    let max_runs_per_minute = match &raw.max_runs_per_minute {
        Some(n) if **n == 0 => {
            cx.err(
                n.span(),
                "alertmanager.max_runs_per_minute must be at least 1",
            );
            DEFAULT_MAX_RUNS_PER_MINUTE
        }
        Some(n) => **n,
        None => DEFAULT_MAX_RUNS_PER_MINUTE,
    };
    let max_body_bytes = match &raw.max_body_bytes {
        Some(n) if **n < 1024 => {
            cx.err(
                n.span(),
                "alertmanager.max_body_bytes must be at least 1024",
            );
            DEFAULT_MAX_BODY_BYTES
        }
        Some(n) => **n,
        None => DEFAULT_MAX_BODY_BYTES,
    };
    let mut routes = Vec::new();
    for (i, r) in raw.routes.iter().enumerate() {
        let field = format!("alertmanager.routes[{i}]");
        let Some(command) = cx.name(&format!("{field}.command"), &r.command) else {
            continue;
        };
        let mut ok = true;
        for (label, re) in &r.match_re {
            if let Err(e) = regex::Regex::new(&format!("^(?:{re})$")) {
                cx.err(
                    r.span(),
                    format!("{field}.match_re.{label}: `{re}` is not a regular expression ({e})"),
                );
                ok = false;
            }
        }
        if r.matchers.is_empty() && r.match_re.is_empty() {
            cx.err(
                r.span(),
                format!("{field}: give `match:` or `match_re:` labels (e.g. `match: {{ alertname: KubePodCrashLooping }}`); a route for every alert would run on every alert"),
            );
            ok = false;
        }
        let slack_channel = r
            .slack_channel
            .as_ref()
            .and_then(|c| cx.name(&format!("{field}.slack_channel"), c));
        let github = r
            .github
            .as_ref()
            .and_then(|g| github_repo(cx, &format!("{field}.github"), g));
        let discord_channel = r
            .discord_channel
            .as_ref()
            .and_then(|c| discord_channel_id(cx, &format!("{field}.discord_channel"), c));
        let named = r.slack_channel.is_some() || r.github.is_some() || r.discord_channel.is_some();
        if !named && !section_has_destination {
            cx.err(
                r.span(),
                format!("{field}: no destination; set its `slack_channel`, `github` or `discord_channel`, or the same key on `alertmanager:`"),
            );
            ok = false;
        }
        if ok {
            routes.push(AlertRoute {
                matchers: r.matchers.clone().into_iter().collect::<BTreeMap<_, _>>(),
                match_re: r.match_re.clone().into_iter().collect(),
                command,
                slack_channel,
                github,
                discord_channel,
            });
        }
    }
    Some(AlertmanagerConfig {
        token,
        basic_auth,
        person,
        slack_channel,
        github,
        discord_channel,
        max_runs_per_minute,
        max_body_bytes,
        builtin_routes: raw.builtin_routes.unwrap_or(true),
        routes,
    })
}

/// `owner/name` of a GitHub repository, as GitHub allows them: an owner of
/// letters, digits and single hyphens, a name of letters, digits, `.`, `-`
/// and `_`.
fn github_repo(cx: &mut Ctx<'_>, field: &str, v: &S) -> Option<String> {
    let s = cx.name(field, v)?;
    let owner_ok = |o: &str| {
        !o.is_empty()
            && o.len() <= 39
            && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !o.starts_with('-')
            && !o.ends_with('-')
    };
    let name_ok = |n: &str| {
        !n.is_empty()
            && n != "."
            && n != ".."
            && n.len() <= 100
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    match s.split_once('/') {
        Some((o, n)) if owner_ok(o) && name_ok(n) => Some(s),
        _ => {
            cx.err(
                v.span(),
                format!("{field}: `{s}` is not a repository; write `owner/name` as in its URL (github.com/owner/name), e.g. `my-org/incidents`"),
            );
            None
        }
    }
}

/// A Discord channel id: the number "Copy Channel ID" gives.
fn discord_channel_id(cx: &mut Ctx<'_>, field: &str, v: &S) -> Option<String> {
    let s = cx.name(field, v)?;
    if s.parse::<u64>().is_ok_and(|n| n != 0) {
        return Some(s);
    }
    cx.err(
        v.span(),
        format!("{field}: `{s}` is not a channel id; turn on Developer Mode in Discord and use \"Copy Channel ID\" (a number such as 1111111111111111111)"),
    );
    None
}
