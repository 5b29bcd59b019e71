//! The HTTP answer to a command or a button press, chosen from what the
//! core said while recording the request: refusals and help privately,
//! an approval request with its buttons, or a deferred response that the
//! interaction's [`story`](super::story) task fills in.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use serenity::builder::{CreateEmbed, CreateInteractionResponse, CreateInteractionResponseMessage};
use serenity::http::Http;
use serenity::model::application::{CommandInteraction, ComponentInteraction};
use tokio::sync::mpsc;

use super::render::{self, Message};
use super::thread::{self, Thread};
use crate::chat::place::{DiscordPlace, Place};
use crate::chat::view::RunView;
use crate::chat::{Core, Request, Update};

type Answer = Json<CreateInteractionResponse>;

/// `/ops run TEXT`, or a typed subcommand (turned back into its text).
/// The "busy" answer, before the interaction's dedup mark is written, when
/// the run queue has no place for the playbook it asks for.
pub fn busy(
    core: &Arc<dyn Core>,
    ci: &CommandInteraction,
    commands: &[crate::command::CommandSpec],
) -> Option<Answer> {
    if ci.data.name != super::register::COMMAND {
        return None;
    }
    let text = super::options::text_of(&ci.data.options, commands)?;
    let update = core.busy(&text)?;
    core.refused("discord", "busy");
    Some(private(render::private(&update)))
}

pub async fn command(
    core: &Arc<dyn Core>,
    http: &Arc<Http>,
    ci: &CommandInteraction,
    commands: &[crate::command::CommandSpec],
) -> Answer {
    if ci.data.name != super::register::COMMAND {
        return private(render::note(&format!(
            "opsbot only answers `/{}`; `/{}` is not one of its commands.",
            super::register::COMMAND,
            ci.data.name
        )));
    }
    let text = super::options::text_of(&ci.data.options, commands)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "help".to_string());
    let place = Place::Discord(DiscordPlace {
        guild_id: ci.guild_id.map(|g| g.to_string()),
        channel_id: ci.channel_id.to_string(),
        interaction_id: ci.id.to_string(),
        message_id: None,
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let req = Request {
        sender: ci.user.id.to_string(),
        text,
        place,
        memberships: guild_roles(ci.member.as_deref()),
    };
    core.submit(req, tx).await;
    let thread = Thread {
        http: http.clone(),
        token: ci.token.clone(),
        channel: ci.channel_id,
        opened: Instant::now(),
    };
    let mut story = RunView::default();
    match rx.try_recv() {
        Ok(u @ (Update::Refused { .. } | Update::Info { .. })) => {
            let m = render::private(&u);
            if m.file.is_none() {
                return private(m);
            }
            // Attachments cannot ride in a JSON answer: defer, then edit.
            tokio::spawn(async move {
                let edit = m.into_edit();
                if let Err(e) =
                    serenity::builder::Builder::execute(edit, &*thread.http, &thread.token).await
                {
                    tracing::warn!(error = %e, "discord: sending a long private answer failed");
                }
            });
            Json(CreateInteractionResponse::Defer(
                CreateInteractionResponseMessage::new().ephemeral(true),
            ))
        }
        Ok(u @ Update::AwaitingApproval { .. }) => {
            story.apply(&u);
            let m = render::story(&story);
            thread::spawn(thread, story, rx, false);
            Json(CreateInteractionResponse::Message(m.into_response()))
        }
        Ok(u) => {
            story.apply(&u);
            thread::spawn(thread, story, rx, true);
            Json(CreateInteractionResponse::Defer(
                CreateInteractionResponseMessage::new(),
            ))
        }
        Err(_) => {
            thread::spawn(thread, story, rx, false);
            Json(CreateInteractionResponse::Defer(
                CreateInteractionResponseMessage::new(),
            ))
        }
    }
}

/// An Approve / Deny / Cancel button: the presser asks `approve 42`.
pub async fn button(core: &Arc<dyn Core>, http: &Arc<Http>, ci: &ComponentInteraction) -> Answer {
    let Some(text) = render::button_command(&ci.data.custom_id) else {
        core.refused("discord", "unknown_button");
        return private(render::note(
            "This button is not one of opsbot's; nothing was done.",
        ));
    };
    let place = Place::Discord(DiscordPlace {
        guild_id: ci.guild_id.map(|g| g.to_string()),
        channel_id: ci.channel_id.to_string(),
        interaction_id: ci.id.to_string(),
        message_id: Some(ci.message.id.to_string()),
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let req = Request {
        sender: ci.user.id.to_string(),
        text,
        place,
        memberships: guild_roles(ci.member.as_ref()),
    };
    core.submit(req, tx).await;
    let mut now = Vec::new();
    while let Ok(u) = rx.try_recv() {
        now.push(u);
    }
    let thread = Thread {
        http: http.clone(),
        token: ci.token.clone(),
        channel: ci.channel_id,
        opened: Instant::now(),
    };
    let mut story = RunView::default();
    let mut story_changed = false;
    let mut decision = None;
    let mut notes = Vec::new();
    for u in &now {
        if let Update::Decided { by, approved, .. } = u {
            decision = Some((by.clone(), *approved));
        }
        if story.apply(u) {
            story_changed = story_changed || !matches!(u, Update::Decided { .. });
        } else {
            notes.push(u.clone());
        }
    }
    if story_changed {
        // The run's story continues on this message (its requester's
        // conversation is gone, e.g. after a restart).
        let m = render::story(&story);
        thread::spawn(thread, story, rx, false);
        return update(m);
    }
    if let Some((by, approved)) = decision {
        let m = decided_message(ci, &by, approved);
        thread::spawn(thread, story, rx, false);
        return update(m);
    }
    let m = match notes.first() {
        Some(u) => render::private(u),
        None => render::note("Noted."),
    };
    thread::spawn(thread, story, rx, false);
    private(m)
}

/// The approval message as it was, marked with the decision and without
/// its buttons (nobody should press them again).
fn decided_message(ci: &ComponentInteraction, by: &str, approved: bool) -> Message {
    let title = if approved { "Approved by" } else { "Denied by" };
    let embed = ci
        .message
        .embeds
        .first()
        .cloned()
        .map(CreateEmbed::from)
        .unwrap_or_default()
        .field(title, by, true)
        .colour(if approved { 0x5865F2 } else { 0x95A5A6 });
    let word = if approved { "approved" } else { "denied" };
    let run = render::button_command(&ci.data.custom_id)
        .and_then(|c| c.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_default();
    Message {
        content: format!("☑ run {run} {word} by {by}"),
        embed: Some(embed),
        components: vec![],
        file: None,
        ephemeral: false,
    }
}

fn private(m: Message) -> Answer {
    Json(CreateInteractionResponse::Message(m.into_response()))
}

fn update(m: Message) -> Answer {
    Json(CreateInteractionResponse::UpdateMessage(m.into_response()))
}

/// The guild role ids of the member who sent an interaction (none in a DM):
/// `discord.roles` turns them into opsbot roles for the request.
fn guild_roles(member: Option<&serenity::model::guild::Member>) -> Vec<String> {
    member
        .map(|m| m.roles.iter().map(|r| r.to_string()).collect())
        .unwrap_or_default()
}
