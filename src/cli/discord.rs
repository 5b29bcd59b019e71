//! `opsbot discord register`: create or update the `/ops` application command
//! (idempotent), globally or in one guild.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::chat::discord::{register, DiscordSettings};

use super::{env, load_config};

pub async fn register(config: Option<PathBuf>, guild: Option<u64>) -> anyhow::Result<u8> {
    let settings = match config {
        Some(path) => load_config(&path)?
            .discord
            .as_ref()
            .map(DiscordSettings::from_config),
        None => DiscordSettings::from_env_only(&env)?,
    }
    .context("Discord is not configured: set DISCORD_PUBLIC_KEY and DISCORD_APPLICATION_ID (and DISCORD_BOT_TOKEN)")?;
    register::register(&settings, guild).await?;
    println!(
        "ok: /{} registered{}",
        register::COMMAND,
        guild.map(|g| format!(" in guild {g}")).unwrap_or_default()
    );
    Ok(0)
}
