//! `opsbot discord register`: create or update the `/ops` application
//! command through Discord's API. Discord treats a create with an existing
//! name as an update, so running it again is harmless.

use serenity::builder::{CreateCommand, CreateCommandOption};
use serenity::model::application::CommandOptionType;
use serenity::model::id::GuildId;

use super::answer::OPTION;
use super::{api, DiscordSettings};

/// The application command's name: people type `/ops`.
pub const COMMAND: &str = "ops";

/// The command definition Discord stores.
pub fn definition() -> CreateCommand {
    CreateCommand::new(COMMAND)
        .description("Run an opsbot command, e.g. `hub status staging` (try `help`)")
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::String,
                OPTION,
                "What to run, e.g. hub status staging",
            )
            .required(false)
            .set_autocomplete(true)
            .max_length(1000),
        )
}

/// Register `/ops` globally, or in one guild (instant, for trying it out).
/// Needs `DISCORD_BOT_TOKEN`.
pub async fn register(settings: &DiscordSettings, guild: Option<u64>) -> anyhow::Result<()> {
    if settings.bot_token.is_none() {
        anyhow::bail!("registering the command needs DISCORD_BOT_TOKEN (developer portal → Bot → Reset Token)");
    }
    let http = api::client(settings)?;
    let def = definition();
    let cmd = match guild {
        Some(g) => http.create_guild_command(GuildId::new(g), &def).await?,
        None => http.create_global_command(&def).await?,
    };
    tracing::info!(id = %cmd.id, guild, "discord: /{COMMAND} registered");
    Ok(())
}
