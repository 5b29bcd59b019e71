//! `${VAR}` and `${file:PATH}` substitution in strings from `opsbot.yaml`.
//!
//! Owned here so that every string in the file expands the same way and a
//! missing variable or file is reported at the place that asked for it.

use std::path::{Path, PathBuf};

/// Why a string could not be expanded; the message names the variable or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError(pub String);

/// Where `${...}` references get their values from.
pub struct Sources<'a> {
    /// Environment lookup (a parameter so tests need no global env mutation).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Relative `${file:...}` paths resolve against this directory.
    pub base_dir: &'a Path,
}

/// Does `text` contain at least one `${...}` reference and nothing else?
/// Secrets must be written this way, never literally.
pub fn is_only_references(text: &str) -> bool {
    let mut rest = text.trim();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix("${") else {
            return false;
        };
        let Some(end) = after.find('}') else {
            return false;
        };
        rest = after[end + 1..].trim_start();
    }
    true
}

/// Replace every `${VAR}` with the environment value and every
/// `${file:PATH}` with the trimmed contents of that file. A `$` that does not
/// start `${` is kept as is.
pub fn expand(text: &str, src: &Sources<'_>) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ExpandError(format!(
                "unterminated `${{` in {text:?}; write `${{VAR}}` or `${{file:PATH}}`"
            )));
        };
        let name = after[..end].trim();
        if let Some(written) = name.strip_prefix("file:") {
            let written = written.trim();
            let path = resolve_path(written, src.base_dir, src.env);
            let content = std::fs::read_to_string(&path).map_err(|e| {
                ExpandError(format!(
                    "`${{file:{written}}}`: cannot read {}: {e}; create the file or fix the path",
                    path.display()
                ))
            })?;
            out.push_str(content.trim());
        } else {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ExpandError(format!(
                    "`${{{name}}}` is not a variable name; use letters, digits and `_`, or `${{file:PATH}}`"
                )));
            }
            match (src.env)(name) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(ExpandError(format!(
                        "environment variable `{name}` is not set; set it or change `${{{name}}}`"
                    )))
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expand a leading `~` (from `HOME`; kept as written when `HOME` is
/// unknown) and resolve a relative path against `base_dir`.
pub fn resolve_path(path: &str, base_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let tilde = path == "~" || path.starts_with("~/");
    let p = if tilde {
        match env("HOME") {
            Some(home) => {
                Path::new(&home).join(path.trim_start_matches('~').trim_start_matches('/'))
            }
            None => return PathBuf::from(path),
        }
    } else {
        PathBuf::from(path)
    };
    let p = if p.is_absolute() { p } else { base_dir.join(p) };
    // `dir/./commands` reads worse than `dir/commands` in messages.
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "HOME" => Some("/home/op".into()),
            _ => None,
        }
    }

    #[test]
    fn variables_are_replaced_and_plain_dollars_kept() {
        let src = Sources {
            env: &env,
            base_dir: Path::new("/etc/opsbot"),
        };
        assert_eq!(expand("a ${TOKEN} $5", &src).unwrap(), "a s3cret $5");
    }

    #[test]
    fn a_missing_variable_is_named() {
        let src = Sources {
            env: &env,
            base_dir: Path::new("/"),
        };
        let err = expand("${NOPE}", &src).unwrap_err();
        assert!(err.0.contains("`NOPE`"), "{err:?}");
    }

    #[test]
    fn file_references_are_read_trimmed_relative_to_the_base_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "abc\n").unwrap();
        let src = Sources {
            env: &env,
            base_dir: dir.path(),
        };
        assert_eq!(expand("${file:tok}", &src).unwrap(), "abc");
        assert!(expand("${file:missing}", &src)
            .unwrap_err()
            .0
            .contains("missing"));
    }

    #[test]
    fn only_whole_references_count_as_indirect() {
        assert!(is_only_references("${A}"));
        assert!(is_only_references(" ${file:/x} "));
        assert!(!is_only_references("xoxb-123"));
        assert!(!is_only_references("Bearer ${A}"));
        assert!(!is_only_references(""));
    }

    #[test]
    fn tilde_expands_from_home() {
        assert_eq!(
            resolve_path("~/.kube/config", Path::new("/x"), &env),
            PathBuf::from("/home/op/.kube/config")
        );
        assert_eq!(
            resolve_path("k.yaml", Path::new("/x"), &env),
            PathBuf::from("/x/k.yaml")
        );
    }
}
