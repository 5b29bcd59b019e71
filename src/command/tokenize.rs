//! Splitting what someone typed into words: whitespace separates, quotes
//! ('…', "…", and the curly ‘…’ “…” that Slack and phones insert) group,
//! `--flag=value` is two words.

/// One word, and whether it was quoted (a quoted `--x` is a value, not a flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub quoted: bool,
}

impl Token {
    /// The flag name if this is an unquoted `--flag`.
    pub fn flag(&self) -> Option<&str> {
        if self.quoted {
            return None;
        }
        self.text.strip_prefix("--").filter(|f| !f.is_empty())
    }
}

fn closing(open: char) -> Option<char> {
    match open {
        '"' => Some('"'),
        '\'' => Some('\''),
        '‘' => Some('’'),
        '“' => Some('”'),
        _ => None,
    }
}

/// Split `text`; an unterminated or stray quote is an error saying where.
pub fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if let Some(close) = closing(c) {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next() {
                    Some(x)
                        if x == close
                            || (close == '’' && x == '\'')
                            || (close == '”' && x == '"') =>
                    {
                        break
                    }
                    Some(x) => word.push(x),
                    None => {
                        return Err(format!(
                            "the quote {c} before `{word}` is never closed; close it or remove it"
                        ))
                    }
                }
            }
            out.push(Token {
                text: word,
                quoted: true,
            });
            continue;
        }
        if matches!(c, '’' | '”') {
            return Err(format!(
                "there is a closing quote {c} without an opening one"
            ));
        }
        let mut word = String::new();
        while let Some(&x) = chars.peek() {
            if x.is_whitespace() {
                break;
            }
            if closing(x).is_some() && word.is_empty() {
                break;
            }
            word.push(x);
            chars.next();
        }
        if word.starts_with("--") {
            if let Some((flag, value)) = word.split_once('=') {
                out.push(Token {
                    text: flag.to_string(),
                    quoted: false,
                });
                let value = value.trim_matches(|q| matches!(q, '"' | '\'' | '‘' | '’' | '“' | '”'));
                out.push(Token {
                    text: value.to_string(),
                    quoted: true,
                });
                continue;
            }
        }
        out.push(Token {
            text: word,
            quoted: false,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        tokenize(s).unwrap().into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn whitespace_splits_and_quotes_group() {
        assert_eq!(
            words("hub restart  staging --reason 'config change'"),
            vec!["hub", "restart", "staging", "--reason", "config change"]
        );
        assert_eq!(words("a “curly quotes” b"), vec!["a", "curly quotes", "b"]);
        assert_eq!(words("--tail=50"), vec!["--tail", "50"]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert!(tokenize("hub 'oops").unwrap_err().contains("never closed"));
        assert!(tokenize("a ” b").unwrap_err().contains("closing quote"));
    }

    #[test]
    fn quoted_dashes_are_not_flags() {
        let t = tokenize("'--not-a-flag'").unwrap();
        assert_eq!(t[0].flag(), None);
    }
}
