//! `opsbot check`: config, commands and playbooks validated together; every
//! problem printed with its `file:line:col`, exit 1 when there is any.

use std::path::PathBuf;

use crate::app::pack;
use crate::config::Config;

use super::env;

pub fn run(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let mut notes = Vec::new();
    let result = match &config {
        Some(path) => match Config::load(path, &env) {
            Ok(cfg) => {
                if let Some(problem) = app_key_problem(&cfg) {
                    eprintln!("{problem}");
                    eprintln!("1 problem(s) found");
                    return Ok(1);
                }
                notes = platform_notes(&cfg);
                notes.insert(0, format!("pack: {}", pack::source(&cfg)));
                let loaded = pack::load_all(&cfg);
                if let (Ok((grammar, playbooks)), false) = (&loaded, cfg.schedules.is_empty()) {
                    let checked =
                        crate::app::server::check_schedules(&cfg.schedules, grammar, playbooks)
                            .and_then(|()| match cfg.slack {
                                Some(_) => Ok(()),
                                None => anyhow::bail!("schedules: post to Slack channels, but no `slack:` is configured; add it or remove `schedules:`"),
                            });
                    if let Err(problem) = checked {
                        eprintln!("{}: {problem}", cfg.path.display());
                        eprintln!("1 problem(s) found");
                        return Ok(1);
                    }
                    for s in &cfg.schedules {
                        notes.push(format!(
                            "schedule {}: `{}` at `{}` (UTC) into Slack channel {}, as {}; one replica runs it (the `schedules` duty)",
                            s.name, s.command, s.cron, s.slack_channel, s.person
                        ));
                    }
                }
                if let (Ok((grammar, playbooks)), Some(am)) = (&loaded, &cfg.alertmanager) {
                    match alert_routes(&cfg, am, grammar, playbooks) {
                        Ok(note) => notes.push(note),
                        Err(problem) => {
                            eprintln!("{problem}");
                            eprintln!("1 problem(s) found");
                            return Ok(1);
                        }
                    }
                }
                loaded.map(|(g, p)| (g.commands().len(), p.iter().count()))
            }
            Err(d) => Err(d),
        },
        None => pack::load_dirs("commands".as_ref(), "playbooks".as_ref())
            .map(|(g, p)| (g.commands().len(), p.iter().count())),
    };
    match result {
        Ok((commands, playbooks)) => {
            println!("ok: {commands} commands, {playbooks} playbooks");
            for n in notes {
                println!("{n}");
            }
            Ok(0)
        }
        Err(problems) => {
            eprintln!("{problems}");
            eprintln!("{} problem(s) found", problems.0.len());
            Ok(1)
        }
    }
}

/// How the configured platforms will identify people and authenticate,
/// for the operator to confirm.
fn platform_notes(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = cfg
        .slack
        .as_ref()
        .filter(|s| !s.incident_channels.is_empty())
    {
        out.push(format!(
            "slack: incident mode in {}: a run's status message, result and audit reference are posted at the top level there, not in a thread",
            s.incident_channels.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(g) = &cfg.github {
        let auth = match (g.app_id, &g.token) {
            (Some(id), token) => {
                let fallback = if token.is_some() {
                    "; GITHUB_TOKEN for deliveries without an installation"
                } else {
                    ""
                };
                format!("github: auth: GitHub App {id}: an installation token per installation (from a JWT signed with github.private_key_file), refreshed before it expires and on a 401{fallback}")
            }
            (None, _) => "github: auth: token (GITHUB_TOKEN); comments by the token's own account (GET /user) never run".to_string(),
        };
        out.push(auth);
        let plan = crate::chat::github::people::Plan::of(
            cfg.people.iter().filter_map(|p| p.github.as_deref()),
        );
        out.push(plan.describe());
        if !g.teams.is_empty() {
            out.push(format!(
                "github.teams: {} team(s) grant opsbot roles to their active members, on top of `people:`; memberships are read through GitHub's API (GET /orgs/ORG/teams/TEAM/memberships/LOGIN, needs the Members read permission) and cached for {} s",
                g.teams.len(),
                crate::chat::github::teams::TTL.as_secs()
            ));
        }
    }
    if let Some(d) = &cfg.discord {
        if !d.roles.is_empty() {
            out.push(format!(
                "discord.roles: {} guild role(s) grant opsbot roles to their members, per interaction, on top of `people:`",
                d.roles.len()
            ));
        }
    }
    out
}

/// The receiver's routes must name read-only commands; the note says how
/// Alertmanager authenticates and how runs are bounded.
fn alert_routes(
    cfg: &Config,
    am: &crate::config::AlertmanagerConfig,
    grammar: &crate::command::Grammar,
    playbooks: &crate::playbook::Playbooks,
) -> Result<String, String> {
    let routes = crate::alerts::route::compile(am)?;
    crate::alerts::route::check(&routes, grammar, playbooks)
        .map_err(|e| format!("{}: alertmanager routes:\n{e}", cfg.path.display()))?;
    let auth = match (am.token.is_some(), am.basic_auth.is_some()) {
        (true, true) => "bearer token or basic auth",
        (true, false) => "bearer token",
        _ => "basic auth",
    };
    let mut unreachable = Vec::new();
    for d in routes.iter().flat_map(|r| &r.to) {
        use crate::alerts::destination::Destination;
        let (what, on) = match d {
            Destination::Slack(c) => (
                format!("Slack channel {c}"),
                cfg.slack.as_ref().is_some_and(|s| s.bot_token.is_some()),
            ),
            Destination::Github(r) => (
                format!("GitHub repository {r}"),
                cfg.github.as_ref().is_some_and(|g| g.token.is_some()),
            ),
            Destination::Discord(c) => (
                format!("Discord channel {c}"),
                cfg.discord.as_ref().is_some_and(|d| d.bot_token.is_some()),
            ),
        };
        if !on && !unreachable.contains(&what) {
            unreachable.push(what);
        }
    }
    let warning = if unreachable.is_empty() {
        String::new()
    } else {
        format!(
            "\nalertmanager: warning: routes post to {}, whose platform is not configured with a token (SLACK_BOT_TOKEN, GITHUB_TOKEN, DISCORD_BOT_TOKEN); those groups are diagnosed and audited but posted nowhere",
            unreachable.join(", ")
        )
    };
    Ok(format!(
        "alertmanager: POST /alertmanager/webhook (webhook payload version 4, {auth}); {} route(s) ({} from the file{}), read-only commands run as `{}`; for each group {}; at most {} diagnoses per minute, the rest summarised",
        routes.len(),
        am.routes.len(),
        if am.builtin_routes { ", then the shipped kube-prometheus ones" } else { "" },
        am.person,
        default_destinations(am),
        am.max_runs_per_minute,
    ) + &warning)
}

/// Where a route without destinations of its own posts its groups.
fn default_destinations(am: &crate::config::AlertmanagerConfig) -> String {
    let mut to = Vec::new();
    if let Some(c) = &am.slack_channel {
        to.push(format!("a Slack thread in {c}"));
    }
    if let Some(r) = &am.github {
        to.push(format!("a GitHub issue in {r}"));
    }
    if let Some(c) = &am.discord_channel {
        to.push(format!("a Discord message in channel {c}"));
    }
    if to.is_empty() {
        return "a thread, issue or message where its route says".to_string();
    }
    format!("{} (unless its route names its own)", to.join(", "))
}

/// The GitHub App's private key must be readable and an RSA key: found
/// here, not at the first delivery.
fn app_key_problem(cfg: &Config) -> Option<String> {
    let path = cfg.github.as_ref()?.private_key_file.as_ref()?;
    let pem = match std::fs::read(path) {
        Ok(p) => p,
        Err(e) => return Some(format!("github.private_key_file {}: cannot read it ({e}); point it at the .pem file downloaded from the App's settings page", path.display())),
    };
    jsonwebtoken::EncodingKey::from_rsa_pem(&pem).err().map(|e| {
        format!("github.private_key_file {}: not an RSA private key in PEM form ({e}); generate one on the App's settings page (Private keys)", path.display())
    })
}
