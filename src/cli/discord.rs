//! `opsbot discord register`: create or update the `/ops` application command
//! (idempotent), globally or in one guild.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::app::pack;
use crate::chat::discord::{register, DiscordSettings};

use super::{env, load_config};

pub async fn register(config: Option<PathBuf>, guild: Option<u64>) -> anyhow::Result<u8> {
    // The typed subcommands come from the command files the bot will serve.
    let (settings, grammar) = match config {
        Some(path) => {
            let cfg = load_config(&path)?;
            let (grammar, _) = pack::load_all(&cfg).map_err(|d| anyhow::anyhow!("{d}"))?;
            (
                cfg.discord.as_ref().map(DiscordSettings::from_config),
                grammar,
            )
        }
        None => {
            let (grammar, _) =
                pack::load_dirs("commands".as_ref(), "playbooks".as_ref()).map_err(|d| {
                    anyhow::anyhow!(
                        "{d}\nrun it where commands/ and playbooks/ are, or pass --config"
                    )
                })?;
            (DiscordSettings::from_env_only(&env)?, grammar)
        }
    };
    let mut settings = settings.context("Discord is not configured: set DISCORD_PUBLIC_KEY and DISCORD_APPLICATION_ID (and DISCORD_BOT_TOKEN)")?;
    settings.commands = grammar.commands().to_vec();
    register::register(&settings, guild).await?;
    println!(
        "ok: /{} registered{}",
        register::COMMAND,
        guild.map(|g| format!(" in guild {g}")).unwrap_or_default()
    );
    Ok(0)
}
