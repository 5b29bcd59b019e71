//! A request's [`RunView`] as one GitHub comment (Markdown), rewritten as it
//! grows: acknowledgement, steps, result or refusal, approval and the audit
//! reference. GitHub has no private replies, so refusals mention the asker.
//!
//! Much of a comment is text opsbot does not control: pod and node names,
//! event messages and log lines from the cluster, command texts people
//! typed. None of it may ping anyone or inject HTML: plain values go into
//! code spans ([`code`]) or are escaped ([`escape`]), and Markdown that a
//! playbook rendered around such values is [`sanitize`]d (HTML shown as
//! text, `@mentions` broken) outside its code.

use pulldown_cmark::{Event, Options, Parser};

use crate::chat::view::{Note, Phase, RunView};
use crate::chat::{Outcome, StepLine};

/// U+2060 WORD JOINER: invisible, and after an `@` GitHub sees no mention.
const NO_MENTION: char = '\u{2060}';

/// GitHub refuses comments over 65,536 characters.
const MAX_OUTPUT: usize = 60_000;

/// The comment for `view`, as it stands. `login` is the commenter: refusals
/// mention them (GitHub has no private replies).
pub fn markdown(view: &RunView, login: &str) -> String {
    let run = view.run.map(|r| r.to_string()).unwrap_or_default();
    let (command, person) = (code(&view.command), escape(&view.person));
    let login = escape(login);
    let mut head = match &view.phase {
        Phase::Running => format!("⏳ running {command} as run {run} (asked by {person})"),
        Phase::Waiting | Phase::Denied => {
            format!("⏸ run {run} {command} by {person} needs approval from someone else.")
        }
        Phase::Done {
            outcome, millis, ..
        } => {
            let mark = match outcome {
                Outcome::Succeeded => "✅",
                Outcome::Partial => "⚠️",
                _ => "❌",
            };
            format!(
                "{mark} run {run} {command} {} in {millis} ms",
                outcome.word()
            )
        }
    };
    let mut body = match (&view.phase, &view.approval) {
        (Phase::Done { output, .. }, _) => {
            let output = sanitize(output.trim_end());
            let output = output.as_str();
            if output.chars().count() > MAX_OUTPUT {
                let cut: String = output.chars().take(MAX_OUTPUT).collect();
                format!(
                    "{cut}\n\n… cut here; the whole output is in the audit log: `/ops audit {run}`"
                )
            } else {
                output.to_string()
            }
        }
        (_, Some(a)) => {
            let plan: Vec<String> = a.plan.iter().map(|p| format!("- {}", escape(p))).collect();
            format!(
                "It would:\n{}\n\nWho can approve: {}. Approve with a comment `/ops approve {run}`, refuse with `/ops deny {run}`. The request expires in {}.",
                plan.join("\n"),
                if a.approvers.is_empty() { "nobody is configured".to_string() } else { escape(&a.approvers.join(", ")) },
                escape(&a.expires_in)
            )
        }
        (_, None) => String::new(),
    };
    match &view.note {
        Some(Note::Refused {
            run,
            reason,
            detail,
        }) => {
            let run = run.map(|r| format!(" (run {r})")).unwrap_or_default();
            head = format!("@{login} ✖ {}{run}", sanitize(reason));
            body = sanitize(detail);
        }
        Some(Note::Info { title, body: text }) => {
            head = format!("@{login} **{}**", escape(title));
            body = sanitize(text);
        }
        None => {}
    }
    let mut lines: Vec<String> = view
        .decisions
        .iter()
        .map(|(by, approved)| {
            let word = if *approved { "approved" } else { "denied" };
            format!("- ☑ run {run} {word} by {}", escape(by))
        })
        .collect();
    lines.extend(view.steps.iter().map(step_line));
    let mut parts = vec![head];
    if !lines.is_empty() {
        parts.push(lines.join("\n"));
    }
    if !body.is_empty() {
        parts.push(body);
    }
    if matches!(view.phase, Phase::Done { .. }) && !view.charts.is_empty() {
        // GitHub's API cannot attach an image to a comment, and opsbot
        // hosts no images: say what exists and where it can be seen.
        let titles: Vec<String> = view.charts.iter().map(|t| escape(t)).collect();
        parts.push(format!(
            "📈 This answer also has a chart ({}), which GitHub comments cannot show: ask the same command in Slack or Discord to see it. The numbers above are the same data.",
            titles.join("; ")
        ));
    }
    if matches!(view.phase, Phase::Done { .. }) {
        parts.push(format!(
            "<sub>audit: run {run} · {person} · `/ops audit {run}` shows every step</sub>"
        ));
    }
    parts.join("\n\n")
}

/// `text` as an inline code span: nothing inside is Markdown, HTML or a
/// mention. The fence is longer than any run of backticks in `text`, so
/// the text cannot close it; line breaks become spaces.
pub fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A space on each side keeps a leading or trailing backtick apart from
    // the fence (GitHub strips one space from each side).
    if text.starts_with('`') || text.ends_with('`') || text.trim().is_empty() {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// A plain value (a name, a plan line) as Markdown text that shows as
/// written: Markdown punctuation backslash-escaped, `<` and `&` as entities,
/// no `@mention`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => {
                out.push('@');
                out.push(NO_MENTION);
            }
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Markdown a playbook rendered (its own formatting around cluster values),
/// made safe to post: raw HTML shows as text and `@` never mentions anyone,
/// while code spans and code blocks stay as they are (GitHub shows them
/// literally, mentions and HTML included).
pub fn sanitize(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut copied = 0;
    let mut in_code_block = false;
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    for (event, range) in Parser::new_ext(md, options).into_offset_iter() {
        use pulldown_cmark::{Tag, TagEnd};
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Html(_) | Event::InlineHtml(_) if range.start >= copied => {
                out.push_str(&md[copied..range.start]);
                // Shown as text now, so it must not mention anyone either.
                let shown = md[range.clone()].replace('&', "&amp;").replace('<', "&lt;");
                out.push_str(&break_mentions(&shown));
                copied = range.end;
            }
            Event::Text(_) if !in_code_block && range.start >= copied => {
                out.push_str(&md[copied..range.start]);
                out.push_str(&break_mentions(&md[range.clone()]));
                copied = range.end;
            }
            _ => {}
        }
    }
    out.push_str(&md[copied..]);
    out
}

/// Every `@` followed by something a mention could start with gets a word
/// joiner after it.
fn break_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '@'
            && chars
                .peek()
                .is_some_and(|n| n.is_alphanumeric() || *n == '-')
        {
            out.push(NO_MENTION);
        }
    }
    out
}

fn step_line(step: &StepLine) -> String {
    let mark = match step.outcome.as_str() {
        "ok" => "✓",
        "skipped" => "·",
        _ => "✗",
    };
    let dry = if step.dry_run { " (dry run)" } else { "" };
    // A skipped step has no target: nothing to show in its place.
    let target = if step.target.trim().is_empty() {
        String::new()
    } else {
        format!(" {}", code(&step.target))
    };
    format!(
        "- {mark} {} {}{target} · {} ms{dry}",
        code(&step.id),
        escape(&step.action),
        step.millis
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{RunId, StepLine, Update};

    #[test]
    fn a_finished_run_reads_as_one_comment_with_its_audit_reference() {
        let mut s = RunView::default();
        s.apply(&Update::Accepted {
            run: RunId(3),
            command: "hub status staging".into(),
            person: "bob".into(),
        });
        s.apply(&Update::Step {
            run: RunId(3),
            step: StepLine {
                id: "hub".into(),
                action: "kube.list".into(),
                target: "apps/v1 deployments staging @aws-us".into(),
                outcome: "ok".into(),
                millis: 4,
                dry_run: false,
            },
        });
        s.apply(&Update::Done {
            run: RunId(3),
            command: "hub status staging".into(),
            person: "bob".into(),
            outcome: Outcome::Succeeded,
            output: "**Hub staging** is ready".into(),
            steps: vec![],
            millis: 40,
            labels: vec![],
            charts: vec![],
        });
        insta::assert_snapshot!(markdown(&s, "bob-demo"), @r"
        ✅ run 3 `hub status staging` succeeded in 40 ms

        - ✓ `hub` kube.list `apps/v1 deployments staging @aws-us` · 4 ms

        **Hub staging** is ready

        <sub>audit: run 3 · bob · `/ops audit 3` shows every step</sub>
        ");
    }

    #[test]
    fn a_run_with_a_chart_says_the_chart_exists_and_where_to_see_it() {
        let mut s = RunView::default();
        s.apply(&Update::Done {
            run: RunId(5),
            command: "hub load staging".into(),
            person: "bob".into(),
            outcome: Outcome::Succeeded,
            output: "**Load of staging**".into(),
            steps: vec![],
            millis: 9,
            labels: vec![],
            charts: vec![crate::chat::Chart {
                file_name: "hub-load-running-over-time.png".into(),
                title: "Running servers on staging, last 6h".into(),
                png: vec![1, 2, 3].into(),
            }],
        });
        let md = markdown(&s, "bob-demo");
        assert!(
            md.contains("a chart (Running servers on staging, last 6h), which GitHub comments cannot show: ask the same command in Slack or Discord"),
            "{md}"
        );
    }

    /// Issue 17: what the cluster or a person wrote cannot ping anyone,
    /// inject HTML or break out of its code span.
    #[test]
    fn cluster_text_cannot_mention_inject_html_or_break_out_of_code() {
        let mut s = RunView::default();
        s.apply(&Update::Accepted {
            run: RunId(4),
            command: "logs staging `x` @team".into(),
            person: "bob".into(),
        });
        s.apply(&Update::Step {
            run: RunId(4),
            step: StepLine {
                id: "pods".into(),
                action: "kube.list".into(),
                target: "pod evil`` @octocat <img src=x>".into(),
                outcome: "ok".into(),
                millis: 1,
                dry_run: false,
            },
        });
        s.apply(&Update::Done {
            run: RunId(4),
            command: "logs staging".into(),
            person: "bob".into(),
            outcome: Outcome::Succeeded,
            output: "**Hub** event: Back-off @org/admins <details><summary>x</summary>\n\n```\n@inside <b>code</b>\n```\n".into(),
            steps: vec![],
            millis: 2,
            labels: vec![],
            charts: vec![],
        });
        let md = markdown(&s, "bob-demo");
        insta::assert_snapshot!(md.replace(NO_MENTION, "[WJ]"), @r"
        ✅ run 4 `logs staging` succeeded in 2 ms

        - ✓ `pods` kube.list ```pod evil`` @octocat <img src=x>``` · 1 ms

        **Hub** event: Back-off @[WJ]org/admins &lt;details>&lt;summary>x&lt;/summary>

        ```
        @inside <b>code</b>
        ```

        <sub>audit: run 4 · bob · `/ops audit 4` shows every step</sub>
        ");
        let rendered =
            Parser::new(&md).filter(|e| matches!(e, Event::Html(_) | Event::InlineHtml(_)));
        let html: Vec<_> = rendered.collect();
        assert_eq!(html.len(), 2, "only opsbot's own <sub> tags: {html:?}");
    }

    #[test]
    fn a_code_span_is_fenced_longer_than_any_backtick_run_inside() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a``"), "``` `a`` ```");
        assert_eq!(code("two\nlines"), "`two lines`");
        let spans: Vec<_> = Parser::new(&code("x `` y"))
            .filter_map(|e| match e {
                Event::Code(c) => Some(c.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(spans, vec!["x `` y".to_string()]);
    }

    /// Found by `github_webhook::sanitized_markdown_mentions_nobody`: an HTML
    /// block runs to the next blank line, and once shown as text the
    /// mentions inside it would ping.
    #[test]
    fn a_mention_inside_an_html_block_is_broken_too() {
        assert_eq!(sanitize("<a>\n@a"), format!("&lt;a>\n@{NO_MENTION}a"));
    }

    #[test]
    fn escaped_names_show_as_written_and_mention_nobody() {
        assert_eq!(escape("a_b*c"), "a\\_b\\*c");
        assert_eq!(escape("@alice"), format!("@{NO_MENTION}alice"));
        assert_eq!(escape("<b>&"), "&lt;b&gt;&amp;");
    }

    #[test]
    fn a_refusal_mentions_the_asker() {
        let mut s = RunView::default();
        s.apply(&Update::Refused {
            run: None,
            reason: "you are not set up to use opsbot".into(),
            detail: "Ask an admin.".into(),
        });
        assert!(markdown(&s, "mallory").starts_with("@mallory ✖ you are not set up"));
    }
}
