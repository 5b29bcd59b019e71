//! Loading the catalogue of known failures from `playbooks/knowledge/*.yaml`
//! and checking it: sources, regexes, durations and templates are validated
//! at load time and every problem is reported as `file:line:col`.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Diagnostics, Spanned};

use super::{Diagnosis, Evidence};

/// Where a matcher looks in the evidence; see the module doc for the text of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    PodPhase,
    PodReason,
    PodCondition,
    ContainerWaitingReason,
    ContainerTerminatedReason,
    ExitCode,
    Event,
    Log,
    PreviousLog,
    NodeCondition,
    DeletionAge,
    PendingAge,
    InitContainer,
    HubLog,
}

impl Source {
    const ALL: [(&'static str, Source); 14] = [
        ("pod_phase", Source::PodPhase),
        ("pod_reason", Source::PodReason),
        ("pod_condition", Source::PodCondition),
        ("container_waiting_reason", Source::ContainerWaitingReason),
        (
            "container_terminated_reason",
            Source::ContainerTerminatedReason,
        ),
        ("exit_code", Source::ExitCode),
        ("event", Source::Event),
        ("log", Source::Log),
        ("previous_log", Source::PreviousLog),
        ("node_condition", Source::NodeCondition),
        ("deletion_age", Source::DeletionAge),
        ("pending_age", Source::PendingAge),
        ("init_container", Source::InitContainer),
        ("hub_log", Source::HubLog),
    ];

    fn parse(word: &str) -> Option<Source> {
        Self::ALL.iter().find(|(w, _)| *w == word).map(|(_, s)| *s)
    }

    /// The word used in catalogue files.
    pub fn word(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map(|(w, _)| *w)
            .unwrap_or("?")
    }

    /// How specific a match on this source is: higher ranks first.
    pub(super) fn specificity(self) -> u32 {
        match self {
            Source::Log | Source::PreviousLog => 60,
            Source::HubLog => 55,
            Source::Event => 50,
            Source::NodeCondition => 45,
            Source::ContainerTerminatedReason | Source::ExitCode => 40,
            Source::InitContainer => 35,
            Source::ContainerWaitingReason => 30,
            Source::DeletionAge | Source::PendingAge => 20,
            Source::PodReason => 15,
            Source::PodCondition | Source::PodPhase => 10,
        }
    }
}

/// One test against the evidence, compiled.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub source: Source,
    /// `None`: any text of the source matches.
    pub pattern: Option<Regex>,
    /// For `event`: only events with exactly this reason.
    pub reason: Option<String>,
    /// For `deletion_age` / `pending_age`.
    pub older_than: Option<Duration>,
}

/// One known failure: how to recognise it and what to say about it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub title: String,
    /// Any of these matches (ignored when empty and `all` is not).
    pub when: Vec<Matcher>,
    /// All of these must match as well.
    pub all: Vec<Matcher>,
    /// Reported only when no non-fallback entry matched.
    pub fallback: bool,
    pub cause: String,
    pub fix: String,
    pub reply: String,
    /// Where the entry was written, for messages about it.
    pub file: String,
    pub line: usize,
}

/// The catalogue of known failures, loaded once and asked per server.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatcher {
    source: Spanned<String>,
    #[serde(default)]
    pattern: Option<Spanned<String>>,
    #[serde(default)]
    reason: Option<Spanned<String>>,
    #[serde(default)]
    older_than: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Spanned<String>,
    title: Spanned<String>,
    #[serde(default)]
    when: Vec<RawMatcher>,
    #[serde(default)]
    all: Vec<RawMatcher>,
    #[serde(default)]
    fallback: bool,
    cause: Spanned<String>,
    fix: Spanned<String>,
    reply: Spanned<String>,
}

impl Catalogue {
    /// Every `*.yaml` in `dir`, in file-name order; all problems of all files
    /// are reported together.
    pub fn load_dir(dir: &Path) -> Result<Catalogue, Diagnostics> {
        let name = dir.display().to_string();
        let read = std::fs::read_dir(dir).map_err(|e| {
            Diagnostic::file(&name, format!("cannot read the catalogue directory: {e}"))
        })?;
        let mut paths: Vec<_> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        paths.sort();
        let mut diags = Diagnostics::default();
        let mut cat = Catalogue::default();
        for path in paths {
            let file = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => match Catalogue::from_str(&file, &text) {
                    Ok(c) => cat.entries.extend(c.entries),
                    Err(d) => diags.extend(d),
                },
                Err(e) => diags.push(Diagnostic::file(&file, format!("cannot read: {e}"))),
            }
        }
        check_unique_ids(&cat.entries, &mut diags);
        diags.into_result(cat)
    }

    /// One catalogue file's text (named `file` in messages).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(file: &str, text: &str) -> Result<Catalogue, Diagnostics> {
        let raw: Vec<RawEntry> = parse_list(file, text)?;
        let mut diags = Diagnostics::default();
        let mut entries = Vec::with_capacity(raw.len());
        for r in raw {
            let no_matchers = r.when.is_empty() && r.all.is_empty();
            let when = compile_matchers(file, r.when, &mut diags);
            let all = compile_matchers(file, r.all, &mut diags);
            if no_matchers {
                diags.push(Diagnostic::at(
                    file,
                    r.id.span(),
                    format!(
                        "entry `{}` has no `when:` or `all:` matchers; add at least one, e.g. `when: [{{ source: event, pattern: \"...\" }}]`",
                        *r.id
                    ),
                ));
            }
            for (field, t) in [("cause", &r.cause), ("fix", &r.fix), ("reply", &r.reply)] {
                let env = minijinja::Environment::new();
                if let Err(e) = env.template_from_str(t) {
                    diags.push(Diagnostic::at(
                        file,
                        t.span(),
                        format!("{field}: not a valid template: {e}"),
                    ));
                }
            }
            let line = r.id.span().start().map(|m| m.line()).unwrap_or(0);
            entries.push(Entry {
                id: r.id.to_string(),
                title: r.title.to_string(),
                when,
                all,
                fallback: r.fallback,
                cause: r.cause.to_string(),
                fix: r.fix.to_string(),
                reply: r.reply.to_string(),
                file: file.to_string(),
                line,
            });
        }
        check_unique_ids(&entries, &mut diags);
        diags.into_result(Catalogue { entries })
    }

    /// The entries, in load order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The pools whose used room can change what an answer that shows the
    /// `shown` parts of the server's first finding says, when `ev.pools`
    /// are the pools as if empty (see [`super::fit::room_matters`]). None
    /// when those parts use no capacity fact: matching never reads the
    /// pools, so which entry comes first is known without them.
    pub fn pools_shown(&self, ev: &Evidence, shown: &[Part]) -> Vec<String> {
        let Some(pod) = ev.pod.as_ref() else {
            return Vec::new();
        };
        let Some(top) = super::engine::top_entry(&self.entries, ev) else {
            return Vec::new();
        };
        let vars: HashSet<String> = shown
            .iter()
            .flat_map(|part| template_vars(part.of(top)))
            .collect();
        let capacity = vars.contains("capacity");
        if !capacity
            && !["fit", "fit_pool", "pool_that_fits"]
                .iter()
                .any(|v| vars.contains(*v))
        {
            return Vec::new();
        }
        super::fit::room_matters(pod, &ev.pools, capacity)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// What is known to be wrong with the server described by `ev`.
    pub fn diagnose(&self, ev: &Evidence) -> Diagnosis {
        super::engine::diagnose(&self.entries, ev)
    }
}

/// A rendered part of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Title,
    Cause,
    Fix,
    Reply,
}

impl Part {
    fn of(self, e: &Entry) -> &str {
        match self {
            Part::Title => &e.title,
            Part::Cause => &e.cause,
            Part::Fix => &e.fix,
            Part::Reply => &e.reply,
        }
    }
}

/// The variables a template may read (none when it does not parse: it then
/// renders as its own text).
fn template_vars(template: &str) -> HashSet<String> {
    let env = minijinja::Environment::new();
    env.template_from_str(template)
        .map(|t| t.undeclared_variables(false))
        .unwrap_or_default()
}

/// Like `crate::diagnostic::parse_str`, but the file is a list at top level (as
/// catalogue files are), which `parse_str` refuses.
fn parse_list<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    let at = |m: Option<&marked_yaml::Marker>, message: String| {
        let (line, column) = m.map(|m| (m.line(), m.column())).unwrap_or((0, 0));
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message,
        }
    };
    let opts = marked_yaml::LoaderOptions::default()
        .toplevel_sequence()
        .error_on_duplicate_keys(true);
    let node = marked_yaml::parse_yaml_with_options(0, text, opts).map_err(|e| {
        use marked_yaml::LoadError::*;
        let mark = match &e {
            TopLevelMustBeMapping(m) | TopLevelMustBeSequence(m) | UnexpectedAnchor(m) => Some(*m),
            MappingKeyMustBeScalar(m) | UnexpectedTag(m) => Some(*m),
            ScanError(m, _) => Some(*m),
            DuplicateKey(d) => d.key.span().start().copied(),
        };
        let message = match &e {
            TopLevelMustBeSequence(_) => {
                "a catalogue file is a list of entries (`- id: ...`)".to_string()
            }
            _ => e.to_string(),
        };
        at(mark.as_ref(), message)
    })?;
    marked_yaml::from_node(&node).map_err(|e| {
        let message = match e.path() {
            Some(path) if !path.is_empty() && path != "." => format!("{path}: {}", *e),
            _ => e.to_string(),
        };
        at(e.start_mark().as_ref(), message)
    })
}

fn check_unique_ids(entries: &[Entry], diags: &mut Diagnostics) {
    for (i, e) in entries.iter().enumerate() {
        if let Some(first) = entries[..i].iter().find(|o| o.id == e.id) {
            diags.push(Diagnostic {
                file: e.file.clone(),
                line: e.line,
                column: 0,
                message: format!(
                    "duplicate id `{}` (first defined at {}:{}); ids must be unique",
                    e.id, first.file, first.line
                ),
            });
        }
    }
}

fn compile_matchers(file: &str, raw: Vec<RawMatcher>, diags: &mut Diagnostics) -> Vec<Matcher> {
    let mut out = Vec::new();
    for m in raw {
        let Some(source) = Source::parse(&m.source) else {
            let words: Vec<_> = Source::ALL.iter().map(|(w, _)| *w).collect();
            diags.push(Diagnostic::at(
                file,
                m.source.span(),
                format!(
                    "unknown source `{}`; expected one of {}",
                    *m.source,
                    words.join(", ")
                ),
            ));
            continue;
        };
        let pattern = match &m.pattern {
            None => None,
            Some(p) => match Regex::new(p) {
                Ok(re) => Some(re),
                Err(e) => {
                    let first = e.to_string().lines().last().unwrap_or_default().to_string();
                    diags.push(Diagnostic::at(
                        file,
                        p.span(),
                        format!(
                            "pattern is not a valid regex: {}",
                            first.trim().trim_start_matches("error: ")
                        ),
                    ));
                    continue;
                }
            },
        };
        if m.reason.is_some() && source != Source::Event {
            diags.push(Diagnostic::at(
                file,
                m.source.span(),
                format!(
                    "`reason:` only applies to source `event`, not `{}`",
                    *m.source
                ),
            ));
        }
        let ages = matches!(source, Source::DeletionAge | Source::PendingAge);
        let older_than = match (&m.older_than, ages) {
            (Some(d), true) => match humantime::parse_duration(d) {
                Ok(d) => Some(d),
                Err(e) => {
                    diags.push(Diagnostic::at(
                        file,
                        d.span(),
                        format!("older_than: {e}; write a duration such as `10m` or `1h30m`"),
                    ));
                    continue;
                }
            },
            (None, true) => {
                diags.push(Diagnostic::at(
                    file,
                    m.source.span(),
                    format!("source `{}` needs `older_than:` (e.g. `10m`)", *m.source),
                ));
                continue;
            }
            (Some(d), false) => {
                diags.push(Diagnostic::at(
                    file,
                    d.span(),
                    "`older_than:` only applies to `deletion_age` and `pending_age`",
                ));
                None
            }
            (None, false) => None,
        };
        out.push(Matcher {
            source,
            pattern,
            reason: m.reason.map(|r| r.to_string()),
            older_than,
        });
    }
    out
}
