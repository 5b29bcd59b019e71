//! How opsbot's updates look on Discord: one message per request whose
//! embed tells the run's story (steps, result, decision, audit reference),
//! coloured by outcome, with Approve/Deny or Cancel buttons while they make
//! sense. Discord's limits are respected here, in one place: 2,000
//! characters of content, 4,096 of embed description, 1,024 per field;
//! longer output travels as an attached Markdown file.

use serenity::builder::{
    CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateButton, CreateEmbed,
    CreateEmbedFooter, CreateInteractionResponseMessage, CreateMessage, EditInteractionResponse,
};
use serenity::model::application::ButtonStyle;

use crate::chat::view::{Approval, Phase, RunView};
use crate::chat::{Outcome, RunId, StepLine, Update};

/// Output longer than this goes into an attached file, with a preview inline.
pub const INLINE_OUTPUT: usize = 3000;
const CONTENT_MAX: usize = 2000;
const DESCRIPTION_MAX: usize = 4096;
const FIELD_MAX: usize = 1024;
const PREVIEW: usize = 1200;

/// One Discord message, independent of how it is sent (interaction
/// response, edit of the original response, or channel message).
#[derive(Debug, Clone)]
pub struct Message {
    pub content: String,
    pub embed: Option<CreateEmbed>,
    pub components: Vec<CreateActionRow>,
    pub file: Option<CreateAttachment>,
    pub ephemeral: bool,
}

impl Message {
    /// As the body of an interaction response (type 4 or 7).
    pub fn into_response(self) -> CreateInteractionResponseMessage {
        let mut m = CreateInteractionResponseMessage::new()
            .content(self.content)
            .allowed_mentions(CreateAllowedMentions::new())
            .components(self.components)
            .ephemeral(self.ephemeral);
        if let Some(e) = self.embed {
            m = m.embed(e);
        }
        if let Some(f) = self.file {
            m = m.add_file(f);
        }
        m
    }

    /// As an edit of the original interaction response.
    pub fn into_edit(self) -> EditInteractionResponse {
        let mut m = EditInteractionResponse::new()
            .content(self.content)
            .allowed_mentions(CreateAllowedMentions::new())
            .components(self.components)
            .embeds(self.embed.into_iter().collect());
        if let Some(f) = self.file {
            m = m.new_attachment(f);
        }
        m
    }

    /// As a channel message (after the interaction token has expired).
    pub fn into_channel_message(self) -> CreateMessage {
        let mut m = CreateMessage::new()
            .content(self.content)
            .allowed_mentions(CreateAllowedMentions::new())
            .components(self.components)
            .embeds(self.embed.into_iter().collect());
        if let Some(f) = self.file {
            m = m.add_file(f);
        }
        m
    }
}

/// Colours people learn to read at a glance.
pub fn colour(story: &RunView) -> u32 {
    match story.outcome() {
        None if story.phase == Phase::Waiting => 0xFEE75C,
        None => 0x5865F2,
        Some(outcome) => match outcome {
            Outcome::Succeeded => 0x57F287,
            Outcome::Failed => 0xED4245,
            Outcome::Partial => 0xE67E22,
            Outcome::Cancelled | Outcome::Denied | Outcome::Interrupted => 0x95A5A6,
        },
    }
}

/// The message for a run's story as it stands.
pub fn story(story: &RunView) -> Message {
    let run = story
        .run
        .map(|r| r.to_string())
        .unwrap_or_else(|| "?".into());
    let mut description = String::new();
    for s in &story.steps {
        description.push_str(&step_line(s));
        description.push('\n');
    }
    let mut file = None;
    // A denial reads as a run that ended denied, with nothing to show.
    let denied = Phase::Done {
        outcome: Outcome::Denied,
        output: String::new(),
        millis: 0,
    };
    let phase = if story.phase == Phase::Denied {
        &denied
    } else {
        &story.phase
    };
    let (content, buttons) = match phase {
        // (`Denied` was turned into `Done` above.)
        Phase::Running | Phase::Denied => (
            format!(
                "▶ run {run} `{}` running for {}",
                story.command, story.person
            ),
            vec![button(&run, "cancel", "Cancel", ButtonStyle::Secondary)],
        ),
        Phase::Waiting => (
            format!(
                "⏸ run {run} `{}` by {} needs approval from someone else",
                story.command, story.person
            ),
            vec![
                button(&run, "approve", "Approve", ButtonStyle::Success),
                button(&run, "deny", "Deny", ButtonStyle::Danger),
            ],
        ),
        Phase::Done {
            outcome,
            output,
            millis,
        } => {
            let output = output.trim_end();
            if !description.is_empty() && !output.is_empty() {
                description.push('\n');
            }
            if output.chars().count() > INLINE_OUTPUT {
                let preview: String = output.chars().take(PREVIEW).collect();
                description.push_str(&preview);
                description.push_str(&format!(
                    "\n… the full output ({} lines) is attached as `run-{run}.md`.",
                    output.lines().count()
                ));
                file = Some(CreateAttachment::bytes(
                    output.as_bytes().to_vec(),
                    format!("run-{run}.md"),
                ));
            } else {
                description.push_str(output);
            }
            let mark = match outcome {
                Outcome::Succeeded => "✔",
                Outcome::Partial => "◐",
                _ => "✖",
            };
            let took = if *millis > 0 {
                format!(" in {millis} ms")
            } else {
                String::new()
            };
            (
                format!(
                    "{mark} run {run} `{}` {}{took}",
                    story.command,
                    outcome.word()
                ),
                vec![],
            )
        }
    };
    let mut embed = CreateEmbed::new()
        .title(clip(&format!("run {run} · {}", story.command), 256))
        .colour(colour(story))
        .field("Requested by", clip(&story.person, FIELD_MAX), true)
        .footer(CreateEmbedFooter::new(format!(
            "audit: run {run} · `audit {run}` shows every step"
        )));
    if let (
        Phase::Waiting,
        Some(Approval {
            plan,
            approvers,
            expires_in,
        }),
    ) = (&story.phase, &story.approval)
    {
        let plan: Vec<String> = plan.iter().map(|p| format!("• {p}")).collect();
        embed = embed
            .field(
                "It would",
                clip(&or_none(&plan.join("\n")), FIELD_MAX),
                false,
            )
            .field(
                "Who can approve",
                clip(&or_none(&approvers.join(", ")), FIELD_MAX),
                true,
            )
            .field("Expires in", clip(expires_in, FIELD_MAX), true);
    }
    for (by, approved) in &story.decisions {
        let title = if *approved {
            "Approved by"
        } else {
            "Denied by"
        };
        embed = embed.field(title, clip(by, FIELD_MAX), true);
    }
    if !description.is_empty() {
        embed = embed.description(clip(&description, DESCRIPTION_MAX));
    }
    let components = if buttons.is_empty() {
        vec![]
    } else {
        vec![CreateActionRow::Buttons(buttons)]
    };
    Message {
        content: clip(&content, CONTENT_MAX),
        embed: Some(embed),
        components,
        file,
        ephemeral: false,
    }
}

/// A refusal or a builtin's answer: only the asker sees it.
pub fn private(u: &Update) -> Message {
    let text = match u {
        Update::Refused {
            run,
            reason,
            detail,
        } => {
            let run = run.map(|r| format!(" (run {r})")).unwrap_or_default();
            format!("✖ {reason}{run}\n{detail}")
        }
        Update::Info { title, body } => format!("**{title}**\n{body}"),
        other => format!("{other:?}"),
    };
    let (content, file) = if text.chars().count() > CONTENT_MAX {
        let preview: String = text.chars().take(PREVIEW).collect();
        (
            format!("{preview}\n… continued in the attached `opsbot.md`."),
            Some(CreateAttachment::bytes(text.into_bytes(), "opsbot.md")),
        )
    } else {
        (text, None)
    };
    Message {
        content,
        embed: None,
        components: vec![],
        file,
        ephemeral: true,
    }
}

/// What a button press says to the presser only.
pub fn note(text: &str) -> Message {
    Message {
        content: clip(text, CONTENT_MAX),
        embed: None,
        components: vec![],
        file: None,
        ephemeral: true,
    }
}

fn step_line(s: &StepLine) -> String {
    let mark = match s.outcome.as_str() {
        "ok" => "✓",
        "skipped" => "·",
        _ => "✗",
    };
    let dry = if s.dry_run { " (dry run)" } else { "" };
    let mut line = format!(
        "{mark} `{}` {} {} — {} ms{dry}",
        s.id, s.action, s.target, s.millis
    );
    if s.outcome != "ok" && s.outcome != "skipped" {
        line.push_str(&format!("\n  {}", s.outcome));
    }
    line
}

fn button(run: &str, action: &str, label: &str, style: ButtonStyle) -> CreateButton {
    CreateButton::new(format!("opsbot:{action}:{run}"))
        .label(label)
        .style(style)
}

/// What a button's custom id asks for, as a chat command: `approve 42`.
pub fn button_command(custom_id: &str) -> Option<String> {
    let mut parts = custom_id.split(':');
    let (Some("opsbot"), Some(action), Some(run), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if !matches!(action, "approve" | "deny" | "cancel") || run.parse::<RunId>().is_err() {
        return None;
    }
    Some(format!("{action} {run}"))
}

fn or_none(s: &str) -> String {
    if s.trim().is_empty() {
        "—".into()
    } else {
        s.to_string()
    }
}

/// Cut to `max` characters, marking the cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, outcome: &str) -> StepLine {
        StepLine {
            id: id.into(),
            action: "kube.get".into(),
            target: "aws-us/staging deployment/hub".into(),
            outcome: outcome.into(),
            millis: 12,
            dry_run: false,
        }
    }

    fn running() -> RunView {
        let mut s = RunView::default();
        s.apply(&Update::Accepted {
            run: RunId(42),
            command: "hub status staging".into(),
            person: "alice".into(),
        });
        s.apply(&Update::Step {
            run: RunId(42),
            step: step("hub", "ok"),
        });
        s
    }

    fn json(m: Message) -> serde_json::Value {
        serde_json::to_value(m.into_edit()).unwrap()
    }

    #[test]
    fn running_run_shows_its_steps_and_a_cancel_button() {
        insta::assert_json_snapshot!(json(story(&running())));
    }

    #[test]
    fn finished_run_is_green_with_the_result_and_no_buttons() {
        let mut s = running();
        s.apply(&Update::Done {
            run: RunId(42),
            command: "hub status staging".into(),
            person: "alice".into(),
            outcome: Outcome::Succeeded,
            output: "Hub **staging** is ready: 1/1 hub, 3 users running.".into(),
            steps: vec![],
            millis: 48,
            labels: vec![],
            charts: vec![],
        });
        insta::assert_json_snapshot!(json(story(&s)));
    }

    #[test]
    fn failed_run_is_red_and_shows_the_failing_step() {
        let mut s = running();
        s.apply(&Update::Step {
            run: RunId(42),
            step: step("logs", "failed: 403 Forbidden: pods/log"),
        });
        s.apply(&Update::Done {
            run: RunId(42),
            command: "hub status staging".into(),
            person: "alice".into(),
            outcome: Outcome::Failed,
            output: "step `logs` failed".into(),
            steps: vec![],
            millis: 80,
            labels: vec![],
            charts: vec![],
        });
        let v = json(story(&s));
        assert_eq!(v["embeds"][0]["color"], 0xED4245);
        insta::assert_json_snapshot!(v);
    }

    #[test]
    fn approval_request_lists_the_plan_and_offers_approve_and_deny() {
        let mut s = RunView::default();
        s.apply(&Update::AwaitingApproval {
            run: RunId(7),
            command: "hub restart staging --reason config change".into(),
            person: "alice".into(),
            plan: vec!["restart: kube.rollout_restart aws-us/staging deployment/hub".into()],
            approvers: vec!["carol".into(), "dave".into()],
            expires_in: "1h".into(),
        });
        insta::assert_json_snapshot!(json(story(&s)));
    }

    #[test]
    fn denied_request_says_who_denied_and_drops_the_buttons() {
        let mut s = RunView::default();
        s.apply(&Update::AwaitingApproval {
            run: RunId(7),
            command: "hub restart staging --reason x".into(),
            person: "alice".into(),
            plan: vec![],
            approvers: vec!["carol".into()],
            expires_in: "1h".into(),
        });
        s.apply(&Update::Decided {
            run: RunId(7),
            by: "carol".into(),
            approved: false,
        });
        let v = json(story(&s));
        assert_eq!(v["components"], serde_json::json!([]));
        insta::assert_json_snapshot!(v);
    }

    #[test]
    fn long_output_is_attached_with_a_preview_inline() {
        let mut s = running();
        let output: String = (0..400)
            .map(|i| format!("line {i}: jupyter-user{i} Running\n"))
            .collect();
        s.apply(&Update::Done {
            run: RunId(42),
            command: "users staging".into(),
            person: "alice".into(),
            outcome: Outcome::Succeeded,
            output,
            steps: vec![],
            millis: 5,
            labels: vec![],
            charts: vec![],
        });
        let m = story(&s);
        let file = m.file.as_ref().expect("attachment");
        assert_eq!(file.filename, "run-42.md");
        let description = serde_json::to_value(m.embed.clone().unwrap()).unwrap()["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(description.chars().count() <= DESCRIPTION_MAX);
        assert!(
            description.contains("attached as `run-42.md`"),
            "{description}"
        );
    }

    #[test]
    fn refusals_are_ephemeral() {
        let m = private(&Update::Refused {
            run: None,
            reason: "you are not set up to use opsbot".into(),
            detail: "Ask an opsbot admin to add your Discord id under `people:`.".into(),
        });
        let v = serde_json::to_value(serenity::builder::CreateInteractionResponse::Message(
            m.into_response(),
        ))
        .unwrap();
        assert_eq!(v["data"]["flags"], 64, "{v}");
        insta::assert_json_snapshot!(v);
    }

    #[test]
    fn button_ids_map_to_commands_and_garbage_maps_to_nothing() {
        assert_eq!(
            button_command("opsbot:approve:42").as_deref(),
            Some("approve 42")
        );
        assert_eq!(
            button_command("opsbot:cancel:7").as_deref(),
            Some("cancel 7")
        );
        assert_eq!(button_command("opsbot:rm -rf:7"), None);
        assert_eq!(button_command("opsbot:approve:x"), None);
        assert_eq!(button_command("other:approve:1"), None);
    }
}
