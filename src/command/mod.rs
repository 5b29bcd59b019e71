//! The chat grammar: `commands/*.yaml` → typed [`Invocation`]s.
//!
//! Every platform hands the same text here (`hub restart staging --reason
//! config change`), and the grammar decides which command it is and what
//! its typed arguments are, or says precisely what is wrong and what would
//! be right. Nothing a person types reaches a cluster untyped.
//!
//! ## `commands/*.yaml`
//! Each file is a list of entries:
//! ```yaml
//! - command: logs <hub> <component> [--tail <n>] [--previous]
//!   summary: Recent log lines of a hub component
//!   playbook: logs                 # or `builtin: help|clusters|hubs|runs|audit|approve|deny|cancel`
//!   args:                          # optional, keyed by placeholder (or option) name
//!     n: { type: int, default: 50, min: 1, max: 5000 }
//!   examples: ["logs staging hub --tail 20"]
//! ```
//! Usage syntax: literal words first (they are the command's name), then
//! `<name>` required positional, `[<name>]` optional positional, `<name>...`
//! one or more (last positional only), `--flag <name>` required option,
//! `[--flag <name>]` optional option, `[--flag]` switch.
//! A placeholder named like a type (`hub`, `cluster`, `user`, `node`,
//! `text`, `duration`, `int`) has that type; others are strings unless
//! `args:` says otherwise. Types: `string` (optional `pattern`), `int`
//! (`min`/`max`), `bool`, `duration` (`90s`, `5m`, `2h`), `enum` (`values`),
//! `text` (free text: takes the rest of the words up to the next known
//! `--flag`, so `--reason config change` needs no quotes; `max_len`),
//! `cluster`, `hub` (checked against the known names), `node`
//! (Kubernetes name syntax), `user` (any JupyterHub username; escaped the
//! way KubeSpawner does). Options are named after their flag; `repeated:
//! true` lets an option be given several times.
//!
//! ## Matching
//! The command whose literal words match the most leading words wins, so
//! `hub restart staging` is `hub restart <hub>`, never `hub <hub>` with a
//! hub called `restart`. Two commands with the same literal words are
//! refused at load time (that is the only ambiguity the rule leaves).

mod load;
mod parse;
pub use parse::hub_in;
pub mod tokenize;
mod usage;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::diagnostic::Diagnostics;
use crate::jupyterhub::username::Username;

/// What runs when a command matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A playbook by name.
    Playbook(String),
    /// One of opsbot's own commands.
    Builtin(Builtin),
}

/// Commands opsbot answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Help,
    Clusters,
    Hubs,
    Runs,
    Audit,
    Approve,
    Deny,
    Cancel,
    /// `incident timeline`: what was run, by whom, how it ended.
    Timeline,
}

impl Builtin {
    fn parse(word: &str) -> Option<Builtin> {
        Some(match word {
            "help" => Builtin::Help,
            "clusters" => Builtin::Clusters,
            "hubs" => Builtin::Hubs,
            "runs" => Builtin::Runs,
            "audit" => Builtin::Audit,
            "approve" => Builtin::Approve,
            "deny" => Builtin::Deny,
            "cancel" => Builtin::Cancel,
            "timeline" => Builtin::Timeline,
            _ => return None,
        })
    }
}

/// An argument's type, with its constraints.
#[derive(Debug, Clone)]
pub enum ArgType {
    Str {
        pattern: Option<regex::Regex>,
    },
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Bool,
    Duration,
    Enum {
        values: Vec<String>,
    },
    Text {
        max_len: Option<usize>,
    },
    Cluster,
    Hub,
    Node,
    User,
    /// A Kubernetes object name (DNS subdomain: `a-b.c`, at most 253),
    /// checked before it reaches a URL path or a selector.
    Name,
}

impl ArgType {
    /// The type's name as written in `args:`.
    pub fn word(&self) -> &'static str {
        match self {
            ArgType::Str { .. } => "string",
            ArgType::Int { .. } => "int",
            ArgType::Bool => "bool",
            ArgType::Duration => "duration",
            ArgType::Enum { .. } => "enum",
            ArgType::Text { .. } => "text",
            ArgType::Cluster => "cluster",
            ArgType::Hub => "hub",
            ArgType::Node => "node",
            ArgType::User => "user",
            ArgType::Name => "name",
        }
    }
}

/// One argument of a command.
#[derive(Debug, Clone)]
pub struct ArgSpec {
    /// The key in [`Invocation::args`]: the placeholder for positionals, the flag for options.
    pub name: String,
    /// The placeholder as written (`<n>` in `--tail <n>`).
    pub placeholder: String,
    pub ty: ArgType,
    pub required: bool,
    pub repeated: bool,
    /// `Some("tail")` for `--tail <n>`; switches have no placeholder.
    pub flag: Option<String>,
    pub switch: bool,
    /// One or more values (`<name>...`).
    pub variadic: bool,
    pub default: Option<Value>,
}

/// One command of the grammar.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The literal words: `hub restart`.
    pub name: String,
    pub usage: String,
    pub summary: String,
    pub target: Target,
    /// Positionals in order, then options.
    pub args: Vec<ArgSpec>,
    pub examples: Vec<String>,
    pub file: String,
    pub line: usize,
}

/// A typed argument value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Duration(Duration),
    Text(String),
    Enum(String),
    Cluster(String),
    Hub(String),
    Node(String),
    User(Username),
    List(Vec<Value>),
}

impl Value {
    /// The JSON playbooks template against: strings for names, text,
    /// enums and durations (`"1h 30m"`, humantime), numbers, booleans,
    /// `{name, escaped, pod}` for users, arrays for lists.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s)
            | Value::Text(s)
            | Value::Enum(s)
            | Value::Cluster(s)
            | Value::Hub(s)
            | Value::Node(s) => json!(s),
            Value::Int(i) => json!(i),
            Value::Bool(b) => json!(b),
            Value::Duration(d) => json!(humantime::format_duration(*d).to_string()),
            Value::User(u) => u.to_json(),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
        }
    }

    /// How the value is written back into a command line.
    fn to_word(&self) -> String {
        match self {
            Value::Str(s)
            | Value::Text(s)
            | Value::Enum(s)
            | Value::Cluster(s)
            | Value::Hub(s)
            | Value::Node(s) => quote(s),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Duration(d) => humantime::format_duration(*d).to_string().replace(' ', ""),
            Value::User(u) => quote(&u.raw),
            Value::List(items) => items
                .iter()
                .map(Value::to_word)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Quote a word when the tokenizer would otherwise split or misread it.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with("--")
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '‘' | '’' | '“' | '”'));
    if plain {
        s.to_string()
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{s}'")
    }
}

/// A parsed command: which one, and its typed arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The command's name (`hub restart`).
    pub command: String,
    pub args: BTreeMap<String, Value>,
    /// The canonical text (what the audit log and replies show).
    pub text: String,
}

impl Invocation {
    /// All arguments as one JSON object.
    pub fn args_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.args
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    /// A canonical command line that parses back to this invocation.
    pub fn to_text(&self, spec: &CommandSpec) -> String {
        let mut words = vec![spec.name.clone()];
        for a in spec.args.iter().filter(|a| a.flag.is_none()) {
            if let Some(v) = self.args.get(&a.name) {
                words.push(v.to_word());
            }
        }
        for a in spec.args.iter().filter(|a| a.flag.is_some()) {
            let flag = a.flag.as_deref().unwrap_or_default();
            match (self.args.get(&a.name), a.switch) {
                (Some(Value::Bool(true)), true) => words.push(format!("--{flag}")),
                (_, true) => {}
                (Some(Value::List(items)), false) if a.repeated => {
                    for i in items {
                        words.push(format!("--{flag} {}", i.to_word()));
                    }
                }
                (Some(v), false) if a.default.as_ref() != Some(v) || a.required => {
                    words.push(format!("--{flag} {}", v.to_word()))
                }
                _ => {}
            }
        }
        words.join(" ")
    }
}

/// Names the grammar checks `hub` and `cluster` arguments against.
pub trait Names {
    fn hubs(&self) -> Vec<String>;
    fn clusters(&self) -> Vec<String>;
    /// The canonical name of the hub a typed word means (`hub`,
    /// `cluster/hub`), or the text saying why none. The default knows only
    /// the names of [`Names::hubs`]; a hub directory knows more
    /// ([`parse::hub_in`]).
    fn resolve_hub(&self, word: &str) -> Result<String, String> {
        let list = self.hubs();
        if list.is_empty() || list.iter().any(|n| n == word) {
            return Ok(word.to_string());
        }
        let hubs = list
            .iter()
            .map(|n| crate::jupyterhub::directory::Hub {
                name: n.clone(),
                cluster: n
                    .split_once('/')
                    .map(|(c, _)| c.to_string())
                    .unwrap_or_default(),
                namespace: String::new(),
                source: "config",
                api: false,
            })
            .collect();
        parse::hub_in(
            &crate::jupyterhub::directory::HubDirectory::from_hubs(hubs),
            word,
        )
    }
}

/// Accepts any well-formed name (for checking examples at load time).
pub struct NoNames;

impl Names for NoNames {
    fn hubs(&self) -> Vec<String> {
        Vec::new()
    }
    fn clusters(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Why a command line was not understood. The text is for the person who
/// typed it: what was wrong, what was expected, how to write it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("Type a command, e.g. `hub status staging`; `help` lists them.")]
    Empty,
    #[error("{0}")]
    Syntax(String),
    #[error("{}", unknown_text(.text, .suggestions))]
    Unknown {
        text: String,
        suggestions: Vec<String>,
    },
    #[error("{message}\nUsage: `{usage}`{}", example_text(.examples))]
    Usage {
        command: String,
        message: String,
        usage: String,
        examples: Vec<String>,
    },
}

fn unknown_text(text: &str, suggestions: &[String]) -> String {
    let first: String = text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    match suggestions {
        [] => format!("I don't know the command `{first}`. `help` lists the commands."),
        [one] => format!("I don't know the command `{first}`. Did you mean `{one}`? (`help {one}` shows how to use it)"),
        many => format!(
            "I don't know the command `{first}`. Did you mean one of: {}?",
            many.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn example_text(examples: &[String]) -> String {
    match examples.first() {
        Some(e) => format!("\nExample: `{e}`"),
        None => String::new(),
    }
}

impl ParseError {
    /// The command the error is about, when it was recognised.
    pub fn command(&self) -> Option<&str> {
        match self {
            ParseError::Usage { command, .. } => Some(command),
            _ => None,
        }
    }
}

/// The loaded grammar.
#[derive(Debug, Clone, Default)]
pub struct Grammar {
    commands: Vec<CommandSpec>,
}

/// The builtins, embedded so they exist even with an empty commands directory.
const BUILTINS: &str = include_str!("../../commands/builtin.yaml");

impl Grammar {
    /// Every `*.yaml` in `dir` (sorted), plus the embedded builtins unless
    /// the directory has its own `builtin.yaml`.
    pub fn load_dir(dir: &Path) -> Result<Grammar, Diagnostics> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| {
                Diagnostics::from(crate::diagnostic::Diagnostic::file(
                    dir.display().to_string(),
                    format!("cannot read the commands directory: {e}"),
                ))
            })?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        entries.sort();
        let mut files = Vec::new();
        let mut problems = Diagnostics::default();
        for p in entries {
            let name = p.display().to_string();
            match std::fs::read_to_string(&p) {
                Ok(text) => files.push((name, text)),
                Err(e) => problems.push(crate::diagnostic::Diagnostic::file(
                    &name,
                    format!("cannot read: {e}"),
                )),
            }
        }
        match Grammar::load_files(&files) {
            Ok(g) => problems.into_result(g),
            Err(d) => {
                problems.extend(d);
                Err(problems)
            }
        }
    }

    /// The commands of `files` (name, text), in order, plus the embedded
    /// builtins unless one of them is a `builtin.yaml`: what [`load_dir`]
    /// reads, and what the built-in pack embedded in the binary is.
    ///
    /// [`load_dir`]: Grammar::load_dir
    pub fn load_files(files: &[(String, String)]) -> Result<Grammar, Diagnostics> {
        let has_builtins = files.iter().any(|(name, _)| {
            Path::new(name)
                .file_name()
                .is_some_and(|f| f == "builtin.yaml")
        });
        let mut grammar = if has_builtins {
            Grammar::default()
        } else {
            Grammar::from_str("<builtin>/builtin.yaml", BUILTINS)?
        };
        let mut problems = Diagnostics::default();
        for (name, text) in files {
            match load::entries(name, text) {
                Ok(cmds) => grammar.commands.extend(cmds),
                Err(d) => problems.extend(d),
            }
        }
        problems.extend(load::check_all(&grammar.commands));
        problems.into_result(grammar)
    }

    /// One file's commands (tests, embedding).
    pub fn from_str(file: &str, text: &str) -> Result<Grammar, Diagnostics> {
        let commands = load::entries(file, text)?;
        load::check_all(&commands).into_result(Grammar { commands })
    }

    /// The embedded builtins alone.
    pub fn builtins() -> Grammar {
        Grammar::from_str("<builtin>/builtin.yaml", BUILTINS)
            .expect("the embedded builtins are valid (tested)")
    }

    /// Both grammars' commands; a name defined twice is an error.
    pub fn merge(mut self, other: Grammar) -> Result<Grammar, Diagnostics> {
        self.commands.extend(other.commands);
        load::check_all(&self.commands).into_result(self)
    }

    pub fn commands(&self) -> &[CommandSpec] {
        &self.commands
    }

    /// A command by name (`hub restart`).
    pub fn get(&self, name: &str) -> Option<&CommandSpec> {
        self.commands.iter().find(|c| c.name == name)
    }

    /// Parse one command line.
    pub fn parse(&self, text: &str, names: &dyn Names) -> Result<Invocation, ParseError> {
        parse::parse(self, text, names)
    }

    /// Commands that look like what was typed, best first.
    pub fn suggest(&self, text: &str) -> Vec<String> {
        parse::suggest(self, text)
    }
}

impl fmt::Display for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.usage, self.summary)
    }
}

#[cfg(test)]
mod tests;
