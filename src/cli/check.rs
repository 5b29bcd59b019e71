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
                notes = platform_notes(&cfg);
                pack::load_all(&cfg).map(|(g, p)| (g.commands().len(), p.iter().count()))
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
    if let Some(g) = &cfg.github {
        // Issue 16: App installation tokens are not made yet; say so rather
        // than let an App-only deployment fail silently.
        let auth = match (g.app_id, &g.token) {
            (Some(id), Some(_)) => format!("github: auth: token (GITHUB_TOKEN); app_id {id} is set, but opsbot does not make App installation tokens yet, so the token is used"),
            (Some(id), None) => format!("github: auth: none that works: app_id {id} is set, but opsbot does not make App installation tokens yet; set GITHUB_TOKEN or replies fail"),
            (None, _) => "github: auth: token (GITHUB_TOKEN); comments by the token's own account (GET /user) never run".to_string(),
        };
        out.push(auth);
        let plan = crate::chat::github::people::Plan::of(
            cfg.people.iter().filter_map(|p| p.github.as_deref()),
        );
        out.push(plan.describe());
    }
    out
}
