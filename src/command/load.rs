//! Loading `commands/*.yaml` with every problem reported at its
//! `file:line:col`: usage syntax, types, defaults, duplicates, targets,
//! and examples that do not parse.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::usage;
use super::{ArgSpec, ArgType, Builtin, CommandSpec, Grammar, NoNames, Target};
use crate::diagnostic::{self, Diagnostic, Diagnostics, Spanned};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    command: Spanned<String>,
    summary: Spanned<String>,
    #[serde(default)]
    playbook: Option<Spanned<String>>,
    #[serde(default)]
    builtin: Option<Spanned<String>>,
    #[serde(default)]
    args: BTreeMap<String, RawArg>,
    #[serde(default)]
    examples: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArg {
    #[serde(rename = "type", default)]
    ty: Option<Spanned<String>>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    pattern: Option<Spanned<String>>,
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
    #[serde(default)]
    max_len: Option<usize>,
    #[serde(default)]
    default: Option<Spanned<String>>,
    #[serde(default)]
    repeated: bool,
    /// For people reading the file; accepted so entries can document an
    /// argument, not shown anywhere yet.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

const TYPES: &[&str] = &[
    "string", "int", "bool", "duration", "enum", "text", "cluster", "hub", "node", "user", "name",
];

fn implicit(placeholder: &str) -> &'static str {
    match placeholder {
        "hub" => "hub",
        "cluster" => "cluster",
        "user" => "user",
        "node" => "node",
        "name" => "name",
        "text" | "reason" => "text",
        "duration" => "duration",
        "int" | "n" | "run" => "int",
        _ => "string",
    }
}

/// The commands of one file.
pub fn entries(file: &str, text: &str) -> Result<Vec<CommandSpec>, Diagnostics> {
    let raw: Vec<RawEntry> = diagnostic::parse_str(file, text).map_err(Diagnostics::from)?;
    let mut out = Vec::new();
    let mut problems = Diagnostics::default();
    for e in raw {
        match entry(file, e) {
            Ok(c) => out.push(c),
            Err(d) => problems.extend(d),
        }
    }
    problems.into_result(out)
}

/// Where one entry's problems are collected, each at its `file:line:col`.
struct Problems<'a> {
    file: &'a str,
    found: Diagnostics,
}

impl Problems<'_> {
    fn at(&mut self, span: &diagnostic::Span, msg: String) {
        self.found.push(Diagnostic::at(self.file, span, msg));
    }
}

/// One entry: its usage, what it runs, its arguments, then (only when all of
/// that is sound) its examples parsed against it.
fn entry(file: &str, e: RawEntry) -> Result<CommandSpec, Diagnostics> {
    let line = e.command.span().start().map(|m| m.line()).unwrap_or(0);
    let (words, slots) = usage_of(file, &e.command)?;
    let name = words.join(" ");
    let mut problems = Problems {
        file,
        found: Diagnostics::default(),
    };
    let target = target(&mut problems, &e, &name);
    unknown_args(&mut problems, &e, &slots);
    let args = slots
        .iter()
        .map(|slot| arg_spec(&mut problems, &e, &slots, slot))
        .collect();
    let spec = CommandSpec {
        name,
        usage: e.command.to_string(),
        summary: e.summary.to_string(),
        target,
        args,
        examples: e.examples.iter().map(|x| x.to_string()).collect(),
        file: file.to_string(),
        line,
    };
    if problems.found.is_empty() {
        check_examples(&mut problems, &spec, &e.examples);
    }
    problems.found.into_result(spec)
}

/// The usage line's words and argument slots; a syntax error points at the
/// column inside the line.
fn usage_of(
    file: &str,
    command: &Spanned<String>,
) -> Result<(Vec<String>, Vec<usage::Slot>), Diagnostics> {
    usage::parse(command).map_err(|(offset, msg)| {
        let mut d = Diagnostic::at(file, command.span(), format!("command: {msg}"));
        if d.column > 0 {
            d.column += offset;
        }
        d.into()
    })
}

/// What the command runs: exactly one of `playbook` and `builtin`.
fn target(problems: &mut Problems<'_>, e: &RawEntry, name: &str) -> Target {
    match (&e.playbook, &e.builtin) {
        (Some(p), None) => Target::Playbook(p.to_string()),
        (None, Some(b)) => match Builtin::parse(b) {
            Some(b) => Target::Builtin(b),
            None => {
                problems.at(b.span(), format!("unknown builtin `{}`; builtins are help, clusters, hubs, runs, audit, approve, deny, cancel", b.as_str()));
                Target::Builtin(Builtin::Help)
            }
        },
        (Some(p), Some(_)) => {
            problems.at(
                p.span(),
                format!("`{name}` has both `playbook` and `builtin`; give exactly one"),
            );
            Target::Builtin(Builtin::Help)
        }
        (None, None) => {
            problems.at(
                e.command.span(),
                format!("`{name}` needs `playbook: NAME` (or `builtin: ...`) to say what it runs"),
            );
            Target::Builtin(Builtin::Help)
        }
    }
}

/// `args:` keys that name no placeholder or flag of the usage.
fn unknown_args(problems: &mut Problems<'_>, e: &RawEntry, slots: &[usage::Slot]) {
    let known: Vec<String> = slots
        .iter()
        .flat_map(|s| [Some(s.placeholder.clone()), s.flag.clone()])
        .flatten()
        .collect();
    for (key, arg) in &e.args {
        if known.contains(key) {
            continue;
        }
        let span = arg
            .ty
            .as_ref()
            .map(|t| *t.span())
            .unwrap_or_else(|| *e.command.span());
        problems.at(
            &span,
            format!(
                "args.{key}: `{key}` is not in the usage `{}`; arguments there: {}",
                e.command.as_str(),
                known.join(", ")
            ),
        );
    }
}

/// One slot of the usage with its `args:` settings: type, placement of a
/// text argument, and a default that must convert to the type.
fn arg_spec(
    problems: &mut Problems<'_>,
    e: &RawEntry,
    slots: &[usage::Slot],
    slot: &usage::Slot,
) -> ArgSpec {
    let raw = e
        .args
        .get(&slot.placeholder)
        .or_else(|| slot.flag.as_ref().and_then(|f| e.args.get(f)));
    let ty = arg_type(problems, e, slot, raw);
    if matches!(ty, ArgType::Text { .. }) && slot.flag.is_none() && !is_last_positional(slots, slot)
    {
        problems.at(e.command.span(), format!("the text argument <{}> takes the rest of the line, so it must be the last positional", slot.placeholder));
    }
    let mut spec = ArgSpec {
        name: slot
            .flag
            .clone()
            .unwrap_or_else(|| slot.placeholder.clone()),
        placeholder: slot.placeholder.clone(),
        ty,
        required: slot.required,
        repeated: raw.is_some_and(|r| r.repeated),
        flag: slot.flag.clone(),
        switch: slot.switch,
        variadic: slot.variadic,
        default: None,
    };
    if let Some(d) = raw.and_then(|r| r.default.as_ref()) {
        match super::parse::convert(&spec, d.as_str(), &NoNames) {
            Ok(v) => spec.default = Some(v),
            Err(msg) => problems.at(
                d.span(),
                format!(
                    "default `{}` is not a valid {}: {msg}",
                    d.as_str(),
                    spec.ty.word()
                ),
            ),
        }
    }
    spec
}

fn is_last_positional(slots: &[usage::Slot], slot: &usage::Slot) -> bool {
    slots
        .iter()
        .rfind(|s| s.flag.is_none())
        .map(|s| &s.placeholder)
        == Some(&slot.placeholder)
}

/// The slot's type: `bool` for a switch, the written `type:`, or the one
/// its placeholder name implies (`<hub>` is a hub).
fn arg_type(
    problems: &mut Problems<'_>,
    e: &RawEntry,
    slot: &usage::Slot,
    raw: Option<&RawArg>,
) -> ArgType {
    let ty_word = if slot.switch {
        "bool".to_string()
    } else {
        raw.and_then(|r| r.ty.as_ref().map(|t| t.to_string()))
            .unwrap_or_else(|| implicit(&slot.placeholder).to_string())
    };
    let ty_span = raw
        .and_then(|r| r.ty.as_ref().map(|t| *t.span()))
        .unwrap_or_else(|| *e.command.span());
    match ty_word.as_str() {
        "string" => ArgType::Str {
            pattern: raw
                .and_then(|r| r.pattern.as_ref())
                .and_then(|p| whole_match_regex(problems, p)),
        },
        "int" => ArgType::Int {
            min: raw.and_then(|r| r.min),
            max: raw.and_then(|r| r.max),
        },
        "bool" => ArgType::Bool,
        "duration" => ArgType::Duration,
        "enum" => {
            let values = raw.map(|r| r.values.clone()).unwrap_or_default();
            if values.is_empty() {
                problems.at(
                    &ty_span,
                    format!("`{}` is an enum without `values: [...]`", slot.placeholder),
                );
            }
            ArgType::Enum { values }
        }
        "text" => ArgType::Text {
            max_len: raw.and_then(|r| r.max_len),
        },
        "cluster" => ArgType::Cluster,
        "hub" => ArgType::Hub,
        "node" => ArgType::Node,
        "user" => ArgType::User,
        "name" => ArgType::Name,
        other => {
            let hint = strsim_best(other, TYPES)
                .map(|b| format!(" Did you mean `{b}`?"))
                .unwrap_or_default();
            problems.at(
                &ty_span,
                format!(
                    "unknown type `{other}`; types are {}.{hint}",
                    TYPES.join(", ")
                ),
            );
            ArgType::Str { pattern: None }
        }
    }
}

/// A string argument's `pattern:`, anchored so it must match the whole value.
fn whole_match_regex(problems: &mut Problems<'_>, p: &Spanned<String>) -> Option<regex::Regex> {
    match regex::Regex::new(&format!("^(?:{})$", p.as_str())) {
        Ok(r) => Some(r),
        Err(err) => {
            problems.at(p.span(), format!("pattern is not a valid regex: {err}"));
            None
        }
    }
}

/// Every example must parse, alone against this command, as this command.
fn check_examples(problems: &mut Problems<'_>, spec: &CommandSpec, examples: &[Spanned<String>]) {
    let alone = Grammar {
        commands: vec![spec.clone()],
    };
    for ex in examples {
        match alone.parse(ex, &NoNames) {
            Ok(inv) if inv.command == spec.name => {}
            Ok(inv) => problems.at(
                ex.span(),
                format!(
                    "example `{}` parses as `{}`, not `{}`",
                    ex.as_str(),
                    inv.command,
                    spec.name
                ),
            ),
            Err(err) => problems.at(
                ex.span(),
                format!(
                    "example `{}` does not parse: {}",
                    ex.as_str(),
                    err.to_string().lines().next().unwrap_or_default()
                ),
            ),
        }
    }
}

fn strsim_best<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Checks across files: one definition per command name.
pub fn check_all(commands: &[CommandSpec]) -> Diagnostics {
    let mut problems = Diagnostics::default();
    for (i, c) in commands.iter().enumerate() {
        if let Some(first) = commands[..i].iter().find(|o| o.name == c.name) {
            problems.push(Diagnostic {
                file: c.file.clone(),
                line: c.line,
                column: 1,
                message: format!(
                    "`{}` is already defined at {}:{}; each command is defined once",
                    c.name, first.file, first.line
                ),
            });
        }
    }
    problems
}
