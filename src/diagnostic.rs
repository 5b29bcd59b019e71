//! Source-located YAML for the files people write (`opsbot.yaml`, `commands/`,
//! `playbooks/`).
//!
//! Every loader reports problems as `file:line:col: what is wrong`, so values
//! that later checks may complain about are wrapped in [`Spanned`] and carry
//! the place they came from. Kubernetes manifests (simulator seeds) do not go
//! through here: they are plain `serde_yaml` documents.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;

pub use marked_yaml::{Marker, Span, Spanned};

/// One problem in one user-written file, printed as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem has no position (a missing file, say).
    pub line: usize,
    /// 1-based; 0 when the problem has no position.
    pub column: usize,
    pub message: String,
}

impl Diagnostic {
    /// A problem at the start of `span` (or at the top of the file when the
    /// span is blank, as it is for values that came from defaults).
    pub fn at(file: impl Into<String>, span: &Span, message: impl Into<String>) -> Self {
        let (line, column) = span
            .start()
            .map(|m| (m.line(), m.column()))
            .unwrap_or((0, 0));
        Diagnostic {
            file: file.into(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A problem with the file as a whole.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for Diagnostic {}

/// Several problems, reported together: `opsbot check` shows every error, not
/// just the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    /// `Ok(value)` when nothing was reported, otherwise every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// Parse `text` (named `file` in messages) into `T`. Syntax errors and type
/// errors both come back with their position and the path of the offending
/// key, e.g. `commands/hub.yaml:3:12: steps[1].timeout: invalid duration`.
pub fn parse_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    let options = if top_level_is_a_list(text) {
        marked_yaml::LoaderOptions::default().toplevel_sequence()
    } else {
        marked_yaml::LoaderOptions::default()
    }
    .error_on_duplicate_keys(true);
    let node =
        marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| load_error(file, e))?;
    marked_yaml::from_node(&node).map_err(|e| {
        let (line, column) = e
            .start_mark()
            .map(|m| (m.line(), m.column()))
            .unwrap_or((0, 0));
        let message = match e.path() {
            Some(path) if !path.is_empty() && path != "." => format!("{path}: {}", *e),
            _ => e.to_string(),
        };
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message,
        }
    })
}

/// Whether the document is a list (`commands/*.yaml`) rather than a mapping.
fn top_level_is_a_list(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("---"))
        .is_some_and(|l| l.starts_with('-') || l.starts_with('['))
}

/// Read and parse one file; a missing or unreadable file is a diagnostic too.
pub fn parse_file<T: DeserializeOwned>(path: &Path) -> Result<T, Diagnostic> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::file(&name, format!("cannot read: {e}")))?;
    parse_str(&name, &text)
}

fn load_error(file: &str, e: marked_yaml::LoadError) -> Diagnostic {
    use marked_yaml::LoadError::*;
    let mark = match &e {
        TopLevelMustBeMapping(m) | TopLevelMustBeSequence(m) | UnexpectedAnchor(m) => Some(*m),
        MappingKeyMustBeScalar(m) | UnexpectedTag(m) => Some(*m),
        ScanError(m, _) => Some(*m),
        DuplicateKey(d) => d.key.span().start().copied(),
    };
    let (line, column) = mark.map(|m| (m.line(), m.column())).unwrap_or((0, 0));
    Diagnostic {
        file: file.to_string(),
        line,
        column,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Doc {
        name: Spanned<String>,
        count: u32,
    }

    #[test]
    fn type_error_reports_file_line_col_and_key() {
        let err = parse_str::<Doc>("x.yaml", "name: a\ncount: many\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 8), "{err}");
        assert!(err.to_string().starts_with("x.yaml:2:8: count"), "{err}");
    }

    #[test]
    fn spanned_values_remember_where_they_were() {
        let doc: Doc = parse_str("x.yaml", "count: 1\nname: hello\n").unwrap();
        let d = Diagnostic::at("x.yaml", doc.name.span(), "bad name");
        assert_eq!(d.to_string(), "x.yaml:2:7: bad name");
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse_str::<Doc>("x.yaml", "name: [a\ncount: 1\n").unwrap_err();
        assert!(err.line > 0, "{err}");
    }
}
