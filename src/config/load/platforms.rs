//! The `slack:`, `github:` and `discord:` sections: credentials from the
//! file or the DESIGN §4 environment variables, and the adapter settings.
//! A platform is on when it has credentials from either place.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use secrecy::SecretString;

use super::{expand, in_file_order, Ctx, RawChannel, RawDiscord, RawGithub, RawSlack, S};
use crate::config::{DiscordConfig, GithubConfig, RepoPermission, SlackConfig};
use crate::diagnostic::{Span, Spanned};

fn is_secret_env_set(ctx: &Ctx<'_>, vars: &[&str]) -> bool {
    vars.iter().any(|v| ctx.env_var(v).is_some())
}

fn section_span<T>(v: Option<&Spanned<T>>) -> Span {
    v.map(|v| *v.span()).unwrap_or_else(Span::new_blank)
}

pub(super) fn slack(
    cx: &mut Ctx<'_>,
    raw: Option<&Spanned<RawSlack>>,
    raw_channels: &HashMap<S, RawChannel>,
) -> Option<SlackConfig> {
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
    let mut incident_channels = BTreeSet::new();
    let mut seen = HashSet::new();
    for (ch, entry) in in_file_order(raw_channels) {
        let id = ch.trim().to_string();
        if !seen.insert(id.clone()) {
            cx.err(ch.span(), format!("slack channel `{id}` is listed twice"));
            continue;
        }
        let (commands, field, incident) = match entry {
            RawChannel::Commands(pats) => (Some(pats), format!("slack.channels.{id}"), false),
            RawChannel::Settings(s) => (
                s.commands.as_ref(),
                format!("slack.channels.{id}.commands"),
                s.incident.as_ref().is_some_and(|b| **b),
            ),
        };
        // A channel without `commands` stays unrestricted.
        if let Some(pats) = commands {
            let p = cx.patterns(&field, pats);
            channels.insert(id.clone(), p);
        }
        if incident {
            incident_channels.insert(id);
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
        incident_channels,
    })
}

pub(super) fn github(
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
        triage_labels: true,
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
        if let Some(on) = r.triage_labels {
            out.triage_labels = on;
        }
    }
    active.then_some(out)
}

pub(super) fn discord(
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
            match a.parse::<u64>() {
                Ok(id) => id,
                Err(_) => {
                    let sp = if sp.start().is_some() { sp } else { span };
                    cx.err(&sp, format!("discord.application_id: `{a}` is not an id; write the numeric Application ID (DISCORD_APPLICATION_ID)"));
                    0
                }
            }
        }
        None if !active => 0,
        None => {
            cx.err(
                &span,
                "discord: needs `application_id`; set DISCORD_APPLICATION_ID",
            );
            0
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
