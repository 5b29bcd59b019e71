//! `opsbot check`: config, commands and playbooks validated together,
//! including the references between them. Every problem is reported with
//! its `file:line:col`, not just the first.

use std::path::Path;

use include_dir::{include_dir, Dir};

use crate::command::{Grammar, Target};
use crate::config::Config;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::playbook::Playbooks;

/// The commands and playbooks shipped with opsbot, built into the binary.
pub(crate) static COMMANDS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/commands");
pub(crate) static PLAYBOOKS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/playbooks");

/// Where a config's commands and playbooks come from, in words (`opsbot
/// check` says it).
pub fn source(config: &Config) -> String {
    let one = |builtin: bool, dir: &Path| {
        if builtin {
            "the built-in pack".to_string()
        } else {
            dir.display().to_string()
        }
    };
    format!(
        "commands from {}, playbooks from {}",
        one(config.commands_builtin, &config.commands_dir),
        one(config.playbooks_builtin, &config.playbooks_dir)
    )
}

/// The `*.yaml` files at the top of an embedded directory, sorted, named
/// `<built-in>/DIR/FILE` in messages.
fn embedded(dir: &Dir<'_>, label: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = dir
        .files()
        .filter(|f| {
            f.path()
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml")
        })
        .filter_map(|f| {
            Some((
                format!("<built-in>/{label}/{}", f.path().display()),
                f.contents_utf8()?.to_string(),
            ))
        })
        .collect();
    files.sort();
    files
}

/// Load the grammar and playbooks a config points at and cross-check them:
/// the directories it names (or finds beside it), or the built-in pack.
pub fn load_all(config: &Config) -> Result<(Grammar, Playbooks), Diagnostics> {
    let (grammar, playbooks) = if config.commands_builtin || config.playbooks_builtin {
        let grammar = if config.commands_builtin {
            Grammar::load_files(&embedded(&COMMANDS, "commands"))
        } else {
            Grammar::load_dir(&config.commands_dir)
        };
        let books = if config.playbooks_builtin {
            Playbooks::load_files_with(
                &embedded(&PLAYBOOKS, "playbooks"),
                &crate::actions::Registry::builtin(),
            )
        } else {
            Playbooks::load_dir(&config.playbooks_dir)
        };
        let mut problems = Diagnostics::default();
        let (Some(g), Some(b)) = (
            grammar.map_err(|d| problems.extend(d)).ok(),
            books.map_err(|d| problems.extend(d)).ok(),
        ) else {
            return Err(problems);
        };
        cross_check(g, b)?
    } else {
        load_dirs(&config.commands_dir, &config.playbooks_dir)?
    };
    let mut problems = Diagnostics::default();
    for (pattern, file, line, column) in config.command_patterns() {
        if pattern == "*" {
            continue;
        }
        let prefix = pattern.strip_suffix('*').map(|p| p.trim_end());
        let known = grammar.commands().iter().any(|c| match prefix {
            Some(p) => c.name.starts_with(p),
            None => c.name == pattern,
        });
        if !known {
            let mut names: Vec<&str> = grammar.commands().iter().map(|c| c.name.as_str()).collect();
            names.sort_by_key(|n| {
                std::cmp::Reverse((strsim::jaro_winkler(n, &pattern) * 1000.0) as i64)
            });
            problems.push(Diagnostic {
                file,
                line,
                column,
                message: format!(
                    "role refers to unknown command `{pattern}`; did you mean `{}`?",
                    names.first().copied().unwrap_or("help")
                ),
            });
        }
    }
    problems.into_result((grammar, playbooks))
}

/// Load `commands/` and `playbooks/` and check that every command's playbook
/// exists and that the command supplies each parameter the playbook needs.
pub fn load_dirs(commands: &Path, playbooks: &Path) -> Result<(Grammar, Playbooks), Diagnostics> {
    let mut problems = Diagnostics::default();
    let grammar = Grammar::load_dir(commands)
        .map_err(|d| problems.extend(d))
        .ok();
    let books = Playbooks::load_dir(playbooks)
        .map_err(|d| problems.extend(d))
        .ok();
    let (Some(grammar), Some(books)) = (grammar, books) else {
        return Err(problems);
    };
    cross_check(grammar, books)
}

/// Every command's playbook exists and gets each parameter it needs.
fn cross_check(grammar: Grammar, books: Playbooks) -> Result<(Grammar, Playbooks), Diagnostics> {
    let mut problems = Diagnostics::default();
    for spec in grammar.commands() {
        let Target::Playbook(name) = &spec.target else {
            continue;
        };
        let Some(pb) = books.get(name) else {
            let mut known: Vec<&str> = books.iter().map(|p| p.name.as_str()).collect();
            known.sort_by_key(|n| {
                std::cmp::Reverse((strsim::jaro_winkler(n, name) * 1000.0) as i64)
            });
            problems.push(Diagnostic {
                file: spec.file.clone(),
                line: spec.line,
                column: 1,
                message: format!(
                    "command `{}` uses unknown playbook `{name}`; did you mean `{}`?",
                    spec.name,
                    known.first().copied().unwrap_or("?")
                ),
            });
            continue;
        };
        for p in &pb.params {
            let supplied = spec.args.iter().any(|a| a.name == p.name);
            if !supplied && p.name != "hubs" && p.required {
                problems.push(Diagnostic {
                    file: spec.file.clone(),
                    line: spec.line,
                    column: 1,
                    message: format!("command `{}` does not supply parameter `{}` that playbook `{}` requires; add `<{}>` to its usage", spec.name, p.name, pb.name, p.name),
                });
            }
        }
        for a in &spec.args {
            if !pb.params.iter().any(|p| p.name == a.name) {
                problems.push(Diagnostic {
                    file: spec.file.clone(),
                    line: spec.line,
                    column: 1,
                    message: format!("command `{}` passes `{}`, which playbook `{}` does not declare under `params:`", spec.name, a.name, pb.name),
                });
            }
        }
    }
    problems.into_result((grammar, books))
}
