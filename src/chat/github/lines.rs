//! Which lines of a GitHub comment are commands: paragraph lines that start
//! with the prefix (`/ops hub status staging`). The comment is parsed as
//! Markdown (pulldown-cmark), so code blocks, inline code, block quotes
//! (people quoting an earlier command) and HTML (including `<!-- -->`
//! comments, which GitHub hides) never trigger anything.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// The command texts (prefix stripped) in `body`, in order.
pub fn commands(body: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut quote_depth = 0usize;
    let mut in_paragraph = false;
    let mut line = String::new();
    let mut code_in_line = false;
    let finish = |line: &mut String, code_in_line: &mut bool, out: &mut Vec<String>| {
        let text = line.trim();
        if !*code_in_line || !text.starts_with('`') {
            if let Some(rest) = text.strip_prefix(prefix) {
                if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                    let cmd = rest.trim();
                    out.push(if cmd.is_empty() {
                        "help".to_string()
                    } else {
                        cmd.to_string()
                    });
                }
            }
        }
        line.clear();
        *code_in_line = false;
    };
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::BlockQuote(_)) => quote_depth += 1,
            Event::End(TagEnd::BlockQuote(_)) => quote_depth = quote_depth.saturating_sub(1),
            Event::Start(Tag::Paragraph) if quote_depth == 0 => in_paragraph = true,
            Event::End(TagEnd::Paragraph) if in_paragraph => {
                finish(&mut line, &mut code_in_line, &mut out);
                in_paragraph = false;
            }
            Event::Text(t) if in_paragraph => line.push_str(&t),
            // Inline code breaks a command: `/ops x` in backticks is an example, not a request.
            Event::Code(c) if in_paragraph => {
                if line.trim().is_empty() {
                    code_in_line = true;
                }
                line.push('`');
                line.push_str(&c);
                line.push('`');
            }
            Event::SoftBreak | Event::HardBreak if in_paragraph => {
                finish(&mut line, &mut code_in_line, &mut out)
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::commands;

    #[test]
    fn lines_starting_with_the_prefix_are_commands() {
        let body = "Thanks for the report!\n/ops hub status staging\n/ops   triage staging bob.jones\nnot /ops this";
        assert_eq!(
            commands(body, "/ops"),
            vec!["hub status staging", "triage staging bob.jones"]
        );
    }

    #[test]
    fn code_quotes_and_html_comments_never_trigger() {
        let body = "```\n/ops hub restart prod --reason x\n```\n\n    /ops indented code\n\n> /ops quoted\n\n<!-- /ops hidden -->\n\n`/ops inline`\n";
        assert!(
            commands(body, "/ops").is_empty(),
            "{:?}",
            commands(body, "/ops")
        );
    }

    #[test]
    fn a_bare_prefix_asks_for_help_and_lookalikes_do_not_count() {
        assert_eq!(commands("/ops", "/ops"), vec!["help"]);
        assert!(commands("/opsy hub status staging", "/ops").is_empty());
    }
}
