//! Whether a command text changes nothing: what opsbot may run on its own
//! initiative (alert routes, schedules), where no person is there to be
//! asked for approval.

use crate::command::{Builtin, CommandSpec, Grammar, Target};

use super::Playbooks;

/// Why a command may not be run unasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReadOnly {
    /// Its first words are no command of the grammar.
    Unknown,
    /// It is this command, which changes things (a `mutates: true`
    /// playbook, or approve / deny / cancel).
    Changes(String),
}

/// The grammar's command `text` starts with (the longest match, anything
/// from `{{` on ignored, so templates may fill the arguments), if it
/// changes nothing.
pub fn read_only<'g>(
    text: &str,
    grammar: &'g Grammar,
    playbooks: &Playbooks,
) -> Result<&'g CommandSpec, NotReadOnly> {
    let literal = text.split("{{").next().unwrap_or("");
    let words: Vec<&str> = literal.split_whitespace().collect();
    let spec = grammar
        .commands()
        .iter()
        .filter(|c| {
            let name: Vec<&str> = c.name.split_whitespace().collect();
            words.len() >= name.len() && words[..name.len()] == name[..]
        })
        .max_by_key(|c| c.name.len())
        .ok_or(NotReadOnly::Unknown)?;
    let changes = match &spec.target {
        Target::Playbook(p) => playbooks.get(p).is_some_and(|p| p.mutates),
        Target::Builtin(b) => matches!(b, Builtin::Approve | Builtin::Deny | Builtin::Cancel),
    };
    if changes {
        Err(NotReadOnly::Changes(spec.name.clone()))
    } else {
        Ok(spec)
    }
}
