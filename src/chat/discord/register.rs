//! `opsbot discord register`: create or update the `/ops` application
//! command through Discord's API. Discord treats a create with an existing
//! name as an update (the whole definition replaced), so running it again
//! is harmless and brings the subcommands in line with `commands/`.

use serenity::builder::CreateCommand;
use serenity::model::id::GuildId;

use super::{api, DiscordSettings};

/// The application command's name: people type `/ops`.
pub const COMMAND: &str = "ops";

/// The command definition Discord stores: `/ops run TEXT` and a typed
/// subcommand per command of `commands` (see [`super::options`]).
pub fn definition(commands: &[crate::command::CommandSpec]) -> CreateCommand {
    let mut def = CreateCommand::new(COMMAND)
        .description("Run an opsbot command, e.g. /ops hub status staging (try /ops help)");
    for o in super::options::options(commands) {
        def = def.add_option(o);
    }
    def
}

/// Register `/ops` globally, or in one guild (instant, for trying it out).
/// Needs `DISCORD_BOT_TOKEN`.
pub async fn register(settings: &DiscordSettings, guild: Option<u64>) -> anyhow::Result<()> {
    if settings.bot_token.is_none() {
        anyhow::bail!("registering the command needs DISCORD_BOT_TOKEN (developer portal → Bot → Reset Token)");
    }
    let http = api::client(settings)?;
    let def = definition(&settings.commands);
    let cmd = match guild {
        Some(g) => http.create_guild_command(GuildId::new(g), &def).await?,
        None => http.create_global_command(&def).await?,
    };
    tracing::info!(id = %cmd.id, guild, "discord: /{COMMAND} registered");
    Ok(())
}
