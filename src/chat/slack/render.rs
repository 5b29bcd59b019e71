//! Every message opsbot shows in Slack, as Block Kit.
//!
//! Pure functions from the neutral [`Update`](crate::chat::Update) data to
//! slack-morphism's [`SlackMessageContent`]; the reply texts live here and
//! nowhere else. Everything respects Block Kit's limits (50 blocks, 3000
//! characters per section text, 150 per header), and every user-controlled
//! string is escaped so a command text cannot ping `<!channel>`.

use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;

use crate::chat::view::{Phase, RunView};
use crate::chat::{Outcome, RunId, StepLine};

/// Block Kit: at most 50 blocks per message.
pub const MAX_BLOCKS: usize = 50;
/// Block Kit: at most 3000 characters in a section's text.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Block Kit: at most 150 characters in a header's text.
pub const MAX_HEADER_CHARS: usize = 150;
/// The most output sections a result message shows before the rest goes to
/// a file (Slack collapses long messages anyway; past this a file reads better).
pub const MAX_OUTPUT_SECTIONS: usize = 5;

/// The fast answer: "running `hub status staging` as run 42".
pub fn ack_text(command: &str, run: RunId) -> String {
    format!("running {} as run {run}", code(command))
}

/// The one status message of a run, edited in place as steps finish: the
/// ack line, one line per finished step, and a Cancel button while running.
pub fn status(view: &RunView) -> SlackMessageContent {
    let run = view.run.unwrap_or_default();
    let (command, person, steps) = (view.command.as_str(), view.person.as_str(), &view.steps);
    let headline = match &view.phase {
        Phase::Running => format!(":hourglass_flowing_sand: {}", ack_text(command, run)),
        Phase::Waiting => format!(
            ":raised_hand: run {run} {} waits for approval",
            code(command)
        ),
        Phase::Denied => format!(
            "{} run {run} {} {}",
            outcome_emoji(Outcome::Denied),
            code(command),
            Outcome::Denied.word()
        ),
        Phase::Done {
            outcome, millis, ..
        } => format!(
            "{} run {run} {} {} in {}",
            outcome_emoji(*outcome),
            code(command),
            outcome.word(),
            duration(*millis)
        ),
    };
    let mut blocks = vec![
        section(&headline),
        context(&format!("requested by {}", escape(person))),
    ];
    if !steps.is_empty() {
        blocks.push(section(&step_lines(steps, MAX_SECTION_CHARS)));
    }
    if view.phase == Phase::Running {
        blocks.push(buttons(run, &[("cancel", "Cancel", None)]));
    }
    content(strip_emoji(&headline), blocks)
}

/// The steps as lines, newest last; when they do not fit, the oldest are
/// summarised as "… N earlier steps".
fn step_lines(steps: &[StepLine], limit: usize) -> String {
    let lines: Vec<String> = steps.iter().map(step_line).collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut used = 0;
    for line in lines.iter().rev() {
        let cost = line.chars().count() + 1;
        if used + cost > limit - 40 {
            break;
        }
        used += cost;
        kept.push(line);
    }
    kept.reverse();
    let hidden = lines.len() - kept.len();
    let mut text = String::new();
    if hidden > 0 {
        text.push_str(&format!("_… {hidden} earlier steps_\n"));
    }
    text.push_str(&kept.join("\n"));
    text
}

fn step_line(step: &StepLine) -> String {
    let outcome = step.outcome.as_str();
    let emoji = if outcome == "ok" {
        ":white_check_mark:"
    } else if outcome == "skipped" {
        ":white_circle:"
    } else if outcome.starts_with("partial") {
        ":warning:"
    } else {
        ":x:"
    };
    let dry = if step.dry_run { " (dry run)" } else { "" };
    let line = format!(
        "{emoji} *{}* {} {} · {} · {}{dry}",
        escape(&step.id),
        code(&step.action),
        escape(&step.target),
        escape(outcome),
        duration(step.millis)
    );
    truncate(&line, MAX_SECTION_CHARS - 100)
}

/// What a finished run's result message needs.
#[derive(Debug, Clone)]
pub struct Done<'a> {
    pub run: RunId,
    pub command: &'a str,
    pub person: &'a str,
    pub outcome: Outcome,
    pub output: &'a str,
    pub millis: u64,
}

/// A rendered result and whether the output was cut (the thread then
/// uploads the whole output as a file).
#[derive(Debug, Clone)]
pub struct ResultMessage {
    pub content: SlackMessageContent,
    /// Output lines not shown in the message.
    pub hidden_lines: usize,
}

/// The result of a finished run, in its thread: a header, the facts as
/// fields, and the output (Markdown converted to Slack mrkdwn, tables as
/// monospace) in an attachment whose bar is coloured by outcome. Output beyond
/// [`MAX_OUTPUT_SECTIONS`] sections is cut with "N more lines, full output
/// in `/ops audit N`".
pub fn result(done: &Done<'_>) -> ResultMessage {
    let header_text = format!("run {} {}", done.run, done.outcome.word());
    let blocks = vec![
        header(&header_text),
        SlackSectionBlock::new()
            .with_fields(vec![
                mrkdwn(format!("*Command*\n{}", code(done.command))),
                mrkdwn(format!("*Requested by*\n{}", escape(done.person))),
                mrkdwn(format!(
                    "*Outcome*\n{} {}",
                    outcome_emoji(done.outcome),
                    done.outcome.word()
                )),
                mrkdwn(format!("*Duration*\n{}", duration(done.millis))),
            ])
            .into(),
    ];
    let mrk = markdown_to_mrkdwn(done.output);
    let total_lines = mrk.lines().count();
    let chunks = chunk_sections(&mrk, MAX_SECTION_CHARS);
    let budget = MAX_OUTPUT_SECTIONS.min(MAX_BLOCKS - blocks.len() - 1);
    let mut body: Vec<SlackBlock> = Vec::new();
    let mut shown_lines = 0;
    for chunk in chunks.iter().take(budget) {
        shown_lines += chunk.source_lines;
        body.push(section(&chunk.text));
    }
    let hidden_lines = total_lines.saturating_sub(shown_lines);
    if body.is_empty() {
        body.push(context("_no output_"));
    }
    if hidden_lines > 0 {
        body.push(context(&format!(
            "{hidden_lines} more lines, full output in {}",
            code(&format!("/ops audit {}", done.run))
        )));
    }
    let fallback = format!(
        "run {} {} {} in {}",
        done.run,
        code(done.command),
        done.outcome.word(),
        duration(done.millis)
    );
    let mut content = content(fallback, blocks);
    // The output sits in a legacy attachment: Block Kit has no colour, and
    // the attachment's bar shows the outcome beside the whole output.
    content.attachments = Some(vec![SlackMessageAttachment::new()
        .with_color(outcome_colour(done.outcome).to_string())
        .with_fallback(format!("run {} {}", done.run, done.outcome.word()))
        .with_blocks(body)]);
    ResultMessage {
        content,
        hidden_lines,
    }
}

/// The message that closes a run's thread: who ran what, when, and how to
/// see the whole record.
pub fn audit_reference(
    run: RunId,
    person: &str,
    command: &str,
    outcome: Outcome,
    at: DateTime<Utc>,
) -> SlackMessageContent {
    let text = format!(
        ":lock: audit: run {run} · {} · requested by {} · {} · {} · full record: {}",
        code(command),
        escape(person),
        outcome.word(),
        at.format("%Y-%m-%d %H:%M:%S UTC"),
        code(&format!("/ops audit {run}"))
    );
    content(strip_emoji(&text), vec![context(&text)])
}

/// What an approval message shows (kept so the decision can be added to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub run: RunId,
    pub command: String,
    pub person: String,
    pub plan: Vec<String>,
    pub approvers: Vec<String>,
    pub expires_in: String,
}

/// A mutating run's plan with Approve / Deny buttons.
pub fn approval(a: &Approval) -> SlackMessageContent {
    let mut blocks = approval_blocks(a);
    blocks.push(context(&format!(
        "can approve: {} · expires in {} · the requester cannot approve their own run",
        if a.approvers.is_empty() {
            "anyone with the approve right".to_string()
        } else {
            escape(&a.approvers.join(", "))
        },
        escape(&a.expires_in)
    )));
    blocks.push(buttons(
        a.run,
        &[
            ("approve", "Approve", Some(SlackBlockButtonStyle::Primary)),
            ("deny", "Deny", Some(SlackBlockButtonStyle::Danger)),
        ],
    ));
    content(
        format!("run {} {} needs approval", a.run, code(&a.command)),
        blocks,
    )
}

fn approval_blocks(a: &Approval) -> Vec<SlackBlock> {
    let mut blocks = vec![section(&format!(
        ":raised_hand: *run {} needs approval*: {}\nrequested by {}",
        a.run,
        code(&a.command),
        escape(&a.person)
    ))];
    let plan = a
        .plan
        .iter()
        .map(|line| format!("• {}", escape(line)))
        .collect::<Vec<_>>()
        .join("\n");
    let plan = if plan.is_empty() {
        "_no plan steps_".to_string()
    } else {
        plan
    };
    for chunk in chunk_sections(&plan, MAX_SECTION_CHARS).into_iter().take(5) {
        blocks.push(section(&chunk.text));
    }
    blocks
}

/// The approval message after someone decided: the plan stays, the buttons
/// go, and it says who decided and when.
pub fn decided(
    approval_shown: Option<&Approval>,
    run: RunId,
    by: &str,
    approved: bool,
    at: DateTime<Utc>,
) -> SlackMessageContent {
    let line = format!(
        "{} run {run} {} by {} at {}",
        if approved {
            ":white_check_mark:"
        } else {
            ":no_entry:"
        },
        if approved { "approved" } else { "denied" },
        escape(by),
        at.format("%Y-%m-%d %H:%M UTC")
    );
    let mut blocks = approval_shown.map(approval_blocks).unwrap_or_default();
    blocks.push(section(&line));
    content(strip_emoji(&line), blocks)
}

/// A refusal (not set up, parse error, denied, busy), shown only to the asker.
pub fn refused(run: Option<RunId>, reason: &str, detail: &str) -> SlackMessageContent {
    let title = match run {
        Some(run) => format!(":no_entry: run {run}: {}", escape(reason)),
        None => format!(":no_entry: {}", escape(reason)),
    };
    let mut blocks = vec![section(&title)];
    if !detail.trim().is_empty() {
        for chunk in chunk_sections(&markdown_to_mrkdwn(detail), MAX_SECTION_CHARS)
            .into_iter()
            .take(MAX_OUTPUT_SECTIONS)
        {
            blocks.push(section(&chunk.text));
        }
    }
    content(strip_emoji(&title), blocks)
}

/// A builtin's answer (help, runs, audit…), shown only to the asker.
pub fn info(title: &str, body: &str) -> SlackMessageContent {
    let mut blocks = vec![header(title)];
    let chunks = chunk_sections(&markdown_to_mrkdwn(body), MAX_SECTION_CHARS);
    let shown = chunks.len().min(MAX_BLOCKS - 2);
    for chunk in &chunks[..shown] {
        blocks.push(section(&chunk.text));
    }
    if shown < chunks.len() {
        blocks.push(context("_(cut: too long for one Slack message)_"));
    }
    content(truncate(title, MAX_HEADER_CHARS), blocks)
}

/// One section's worth of text and how many source lines it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
    pub source_lines: usize,
}

/// Splits mrkdwn into section texts of at most `limit` characters on line
/// boundaries; a code block cut in two is closed and reopened so both halves
/// stay monospace. Over-long lines are cut.
pub fn chunk_sections(text: &str, limit: usize) -> Vec<Chunk> {
    const FENCE: &str = "```";
    let room = limit - 2 * (FENCE.len() + 1);
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut lines = 0;
    let mut in_code = false;
    let mut opened_in_code = false;
    for raw in text.lines() {
        let line = truncate(raw, room);
        if !current.is_empty() && current.chars().count() + line.chars().count() + 1 > room {
            let mut done = std::mem::take(&mut current);
            if in_code {
                done.push_str("\n```");
            }
            if opened_in_code {
                done.insert_str(0, "```\n");
            }
            chunks.push(Chunk {
                text: done,
                source_lines: lines,
            });
            lines = 0;
            opened_in_code = in_code;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
        lines += 1;
        if raw.trim_start().starts_with(FENCE) {
            in_code = !in_code;
        }
    }
    if !current.trim().is_empty() {
        if opened_in_code {
            current.insert_str(0, "```\n");
        }
        chunks.push(Chunk {
            text: current,
            source_lines: lines,
        });
    }
    chunks
}

/// Converts the playbooks' Markdown to Slack mrkdwn: `**bold**` → `*bold*`,
/// headings → bold lines, `[t](u)` → `<u|t>`, bullets → `•`, and tables →
/// aligned monospace. Text is escaped for Slack first.
pub fn markdown_to_mrkdwn(md: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut in_code = false;
    let flush_table = |table: &mut Vec<Vec<String>>, out: &mut Vec<String>| {
        if table.is_empty() {
            return;
        }
        let cols = table.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                table
                    .iter()
                    .map(|row| row.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        out.push("```".to_string());
        for row in table.drain(..) {
            let cells: Vec<String> = (0..cols)
                .map(|c| {
                    let cell = row.get(c).map(String::as_str).unwrap_or("");
                    format!("{cell:<width$}", width = widths[c])
                })
                .collect();
            out.push(cells.join("  ").trim_end().to_string());
        }
        out.push("```".to_string());
    };
    for raw in md.lines() {
        let line = escape(raw);
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            flush_table(&mut table, &mut out);
            in_code = !in_code;
            out.push("```".to_string());
            continue;
        }
        if in_code {
            out.push(line);
            continue;
        }
        if trimmed.starts_with('|') {
            let cells: Vec<String> = trimmed
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            let separator = cells
                .iter()
                .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')));
            if !separator {
                table.push(cells);
            }
            continue;
        }
        flush_table(&mut table, &mut out);
        let heading = trimmed.trim_start_matches('#');
        if heading.len() < trimmed.len() && heading.starts_with(' ') {
            out.push(format!("*{}*", inline(heading.trim())));
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push(format!("{indent}• {}", inline(item)));
        } else {
            out.push(inline(&line));
        }
    }
    flush_table(&mut table, &mut out);
    out.join("\n")
}

/// Inline Markdown → mrkdwn for one line (text already escaped).
fn inline(line: &str) -> String {
    use std::sync::LazyLock;
    static BOLD: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"\*\*([^*]+)\*\*").expect("valid regex"));
    static LINK: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"\[([^\]]+)\]\((https?://[^)\s]+)\)").expect("valid regex")
    });
    let line = BOLD.replace_all(line, "*$1*");
    LINK.replace_all(&line, "<$2|$1>").into_owned()
}

/// Escapes `&`, `<` and `>` as Slack requires, so user text can never
/// become a mention, a channel ping or a link.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Inline code, escaped, with backticks neutralised so the span cannot be
/// broken out of.
fn code(text: &str) -> String {
    format!("`{}`", escape(&text.replace('`', "'")))
}

fn duration(millis: u64) -> String {
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis < 60_000 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else {
        format!("{}m {:02}s", millis / 60_000, (millis % 60_000) / 1000)
    }
}

fn outcome_emoji(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => ":white_check_mark:",
        Outcome::Failed => ":x:",
        Outcome::Partial => ":warning:",
        Outcome::Cancelled => ":no_entry_sign:",
        Outcome::Denied => ":no_entry:",
        Outcome::Interrupted => ":zap:",
    }
}

/// The attachment colour bar per outcome (Slack's brand green/red/yellow).
pub fn outcome_colour(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "#2eb67d",
        Outcome::Failed | Outcome::Denied => "#e01e5a",
        Outcome::Partial => "#ecb22e",
        Outcome::Cancelled | Outcome::Interrupted => "#868686",
    }
}

/// Cuts at `max` characters (not bytes), marking the cut with `…`.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The notification fallback text: the headline without leading emoji codes.
fn strip_emoji(text: &str) -> String {
    let mut rest = text.trim_start();
    while rest.starts_with(':') {
        match rest[1..].find(':') {
            Some(end) if !rest[1..=end].contains(' ') => rest = rest[end + 2..].trim_start(),
            _ => break,
        }
    }
    rest.to_string()
}

fn content(text: String, blocks: Vec<SlackBlock>) -> SlackMessageContent {
    debug_assert!(blocks.len() <= MAX_BLOCKS);
    SlackMessageContent::new()
        .with_text(text)
        .with_blocks(blocks)
}

fn mrkdwn(text: String) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(truncate(
        &text,
        MAX_SECTION_CHARS,
    )))
}

fn section(text: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(mrkdwn(text.to_string()))
        .into()
}

fn header(text: &str) -> SlackBlock {
    SlackHeaderBlock::new(SlackBlockPlainText::new(truncate(text, MAX_HEADER_CHARS)).into()).into()
}

fn context(text: &str) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
        SlackBlockMarkDownText::new(truncate(text, MAX_SECTION_CHARS)),
    )])
    .into()
}

/// An actions block of buttons whose value is the run number; pressing one
/// becomes the request `<action_id> <run>` from the presser.
fn buttons(run: RunId, spec: &[(&str, &str, Option<SlackBlockButtonStyle>)]) -> SlackBlock {
    let elements = spec
        .iter()
        .map(|(action, label, style)| {
            SlackBlockButtonElement::new(SlackBlockPlainText::new(label.to_string()).into())
                .with_action_id(SlackActionId(action.to_string()))
                .with_value(run.to_string())
                .opt_style(style.clone())
                .into()
        })
        .collect();
    SlackActionsBlock::new(elements)
        .with_block_id(SlackBlockId(format!("run-{run}")))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_ping_the_channel() {
        assert_eq!(escape("<!channel> & co"), "&lt;!channel&gt; &amp; co");
        assert_eq!(code("a`b"), "`a'b`");
    }

    #[test]
    fn markdown_table_becomes_aligned_monospace() {
        let md = "| user | state |\n|---|---|\n| alice | running |\n| bob | stopped |";
        assert_eq!(
            markdown_to_mrkdwn(md),
            "```\nuser   state\nalice  running\nbob    stopped\n```"
        );
    }

    #[test]
    fn chunks_never_exceed_the_section_limit_and_keep_code_fenced() {
        let mut text = String::from("```\n");
        for i in 0..2000 {
            text.push_str(&format!("line {i} of a long log\n"));
        }
        text.push_str("```");
        let chunks = chunk_sections(&text, MAX_SECTION_CHARS);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(chunk.text.chars().count() <= MAX_SECTION_CHARS);
            assert!(chunk.text.starts_with("```"), "{}", &chunk.text[..20]);
            assert!(chunk.text.ends_with("```"));
        }
        let lines: usize = chunks.iter().map(|c| c.source_lines).sum();
        assert_eq!(lines, text.lines().count());
    }

    #[test]
    fn emoji_prefix_is_dropped_from_fallback_text() {
        assert_eq!(strip_emoji(":no_entry: nope"), "nope");
        assert_eq!(strip_emoji("plain: text"), "plain: text");
    }
}
