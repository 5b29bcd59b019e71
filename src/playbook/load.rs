//! Loading and validating playbook files: every problem is reported with its
//! `file:line:col`, all at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::Node;
use serde_json::Value;

use super::model::{Approval, ChartSpec, ParamSpec, ParamType, Playbook, Playbooks, Step};
use super::template;
use crate::actions::Registry;
use crate::diagnostic::{Diagnostic, Diagnostics, Span};

const TOP_KEYS: &[&str] = &[
    "name",
    "summary",
    "description",
    "params",
    "mutates",
    "approval",
    "lock",
    "timeout",
    "steps",
    "result",
    "labels",
    "chart",
];
const STEP_KEYS: &[&str] = &[
    "id",
    "when",
    "foreach",
    "as",
    "concurrency",
    "timeout",
    "retries",
    "continue_on_error",
    "name",
];
const PARAM_KEYS: &[&str] = &[
    "type",
    "max_len",
    "values",
    "default",
    "required",
    "description",
];
/// Names templates may use besides params, `steps` and the loop variable.
const GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "true",
    "false",
    "none",
    "loop",
];

/// Default playbook budget.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Default retries on transient failures.
pub const DEFAULT_RETRIES: u32 = 3;
/// Default fan-out width.
pub const DEFAULT_CONCURRENCY: usize = 4;

impl Playbooks {
    /// Every `*.yaml`/`*.yml` file directly in `dir` (sub-folders such as
    /// `knowledge/` are data for steps, not playbooks), with built-in steps.
    pub fn load_dir(dir: &Path) -> Result<Playbooks, Diagnostics> {
        Self::load_dir_with(dir, &Registry::builtin())
    }

    /// Like [`Playbooks::load_dir`] with a custom step vocabulary.
    pub fn load_dir_with(dir: &Path, registry: &Registry) -> Result<Playbooks, Diagnostics> {
        let mut diags = Diagnostics::default();
        let shown = dir.display().to_string();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                return Err(
                    Diagnostic::file(shown, format!("cannot read playbook directory: {e}")).into(),
                )
            }
        };
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
            })
            .collect();
        paths.sort();
        let mut files = Vec::new();
        for path in paths {
            let name = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(t) => files.push((name, t)),
                Err(e) => diags.push(Diagnostic::file(&name, format!("cannot read: {e}"))),
            }
        }
        match Self::load_files_with(&files, registry) {
            Ok(out) => diags.into_result(out),
            Err(d) => {
                diags.extend(d);
                Err(diags)
            }
        }
    }

    /// The playbooks of `files` (name, text): what [`Playbooks::load_dir`]
    /// reads, and what the built-in pack embedded in the binary is.
    pub fn load_files_with(
        files: &[(String, String)],
        registry: &Registry,
    ) -> Result<Playbooks, Diagnostics> {
        let mut diags = Diagnostics::default();
        let mut out = Playbooks::default();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (name, text) in files {
            match load_one(name, text, registry) {
                Ok((pb, span)) => {
                    if let Some(first) = seen.get(&pb.name) {
                        diags.push(Diagnostic::at(
                            name,
                            &span,
                            format!("playbook name '{}' is already used by {first}; names must be unique", pb.name),
                        ));
                    } else {
                        seen.insert(pb.name.clone(), name.clone());
                        out.by_name.insert(pb.name.clone(), Arc::new(pb));
                    }
                }
                Err(d) => diags.extend(d),
            }
        }
        diags.into_result(out)
    }

    /// One playbook from text (named `file` in messages), with built-in steps.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(file: &str, text: &str) -> Result<Playbooks, Diagnostics> {
        Self::from_str_with(file, text, &Registry::builtin())
    }

    /// One playbook from text with a custom step vocabulary.
    pub fn from_str_with(
        file: &str,
        text: &str,
        registry: &Registry,
    ) -> Result<Playbooks, Diagnostics> {
        let (pb, _) = load_one(file, text, registry)?;
        let mut out = Playbooks::default();
        out.by_name.insert(pb.name.clone(), Arc::new(pb));
        Ok(out)
    }
}

/// "did you mean" for a misspelt word among `known`.
pub(crate) fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let best = known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(word, k), k))
        .min();
    match best {
        Some((d, k)) if d <= 3.max(word.len() / 3) => format!(" (did you mean '{k}'?)"),
        _ => String::new(),
    }
}

struct Loader<'a> {
    file: &'a str,
    registry: &'a Registry,
    diags: Diagnostics,
}

fn load_one(file: &str, text: &str, registry: &Registry) -> Result<(Playbook, Span), Diagnostics> {
    let node = marked_yaml::parse_yaml(0, text).map_err(|e| {
        // Reuse crate::diagnostic's positions for syntax errors, without the
        // scanner's own "line:col: " prefix repeated in the message.
        let mut d = crate::diagnostic::parse_str::<serde_json::Value>(file, text)
            .err()
            .unwrap_or_else(|| Diagnostic::file(file, e.to_string()));
        let prefix = format!("{}:{}: ", d.line, d.column);
        if let Some(rest) = d.message.strip_prefix(&prefix) {
            d.message = rest.to_string();
        }
        d
    })?;
    let mut l = Loader {
        file,
        registry,
        diags: Diagnostics::default(),
    };
    let top = match node.as_mapping() {
        Some(m) => m,
        None => {
            return Err(Diagnostic::at(
                file,
                node.span(),
                "a playbook is a mapping with name, steps, ...",
            )
            .into())
        }
    };
    let pb = l.playbook(top);
    let span = *top.get_node("name").map(|n| n.span()).unwrap_or(top.span());
    l.diags.into_result(pb).map(|pb| (pb, span))
}

fn scalar_json(s: &MarkedScalarNode) -> Value {
    let text = s.as_str();
    if s.may_coerce() {
        match text {
            "true" | "True" => return Value::Bool(true),
            "false" | "False" => return Value::Bool(false),
            "null" | "~" | "" => return Value::Null,
            _ => {}
        }
        if let Ok(i) = text.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::String(text.into()));
        }
    }
    Value::String(text.to_string())
}

/// A YAML node as JSON (plain scalars coerced like YAML 1.2 core).
pub(crate) fn node_json(n: &Node) -> Value {
    match n {
        Node::Scalar(s) => scalar_json(s),
        Node::Sequence(seq) => Value::Array(seq.iter().map(node_json).collect()),
        Node::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().to_string(), node_json(v)))
                .collect(),
        ),
    }
}

impl Loader<'_> {
    fn err(&mut self, span: &Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(self.file, span, msg));
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_scalar() {
            Some(s) => Some(s.as_str().to_string()),
            None => {
                self.err(node.span(), format!("{what} must be a string"));
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.as_scalar().and_then(|s| s.as_bool()) {
            Some(b) => Some(b),
            None => {
                self.err(node.span(), format!("{what} must be true or false"));
                None
            }
        }
    }

    fn uint(&mut self, node: &Node, what: &str) -> Option<u64> {
        match node
            .as_scalar()
            .and_then(|s| s.as_str().parse::<u64>().ok())
        {
            Some(n) => Some(n),
            None => {
                self.err(node.span(), format!("{what} must be a whole number >= 0"));
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let text = self.string(node, what)?;
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.err(
                    node.span(),
                    format!("{what}: '{text}' must be longer than zero"),
                );
                None
            }
            Err(e) => {
                self.err(
                    node.span(),
                    format!("{what}: '{text}' is not a duration ({e}); write e.g. 30s, 5m, 1h"),
                );
                None
            }
        }
    }

    fn unknown_keys(&mut self, m: &MarkedMappingNode, known: &[&str], what: &str) {
        for k in m.keys() {
            if !known.contains(&k.as_str()) {
                let hint = suggest(k.as_str(), known.iter().copied());
                self.err(
                    k.span(),
                    format!(
                        "unknown {what} field '{}'{hint}; expected one of: {}",
                        k.as_str(),
                        known.join(", ")
                    ),
                );
            }
        }
    }

    fn playbook(&mut self, top: &MarkedMappingNode) -> Playbook {
        self.unknown_keys(top, TOP_KEYS, "playbook");
        let name = match top.get_node("name") {
            Some(n) => self.string(n, "name").unwrap_or_default(),
            None => {
                self.err(
                    top.span(),
                    "missing 'name' (the playbook's name, used by commands/*.yaml)",
                );
                String::new()
            }
        };
        if !name.is_empty()
            && !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            let span = *top.get_node("name").map(|n| n.span()).unwrap_or(top.span());
            self.err(
                &span,
                format!("name '{name}' may only hold letters, digits, '-' and '_'"),
            );
        }
        let summary = top
            .get_node("summary")
            .and_then(|n| self.string(n, "summary"))
            .unwrap_or_default();
        let params = top
            .get_node("params")
            .map(|n| self.params(n))
            .unwrap_or_default();
        let mutates = top
            .get_node("mutates")
            .and_then(|n| self.boolean(n, "mutates"))
            .unwrap_or(false);
        let approval = match top.get_node("approval") {
            Some(n) => match n.as_mapping() {
                Some(m) => {
                    self.unknown_keys(m, &["approvers"], "approval");
                    let approvers = m
                        .get_node("approvers")
                        .and_then(|n| self.uint(n, "approval.approvers"))
                        .unwrap_or(1) as u32;
                    Approval { approvers }
                }
                None => {
                    self.err(n.span(), "approval must be a mapping like { approvers: 1 }");
                    Approval::default()
                }
            },
            None if mutates => Approval::default(),
            None => Approval { approvers: 0 },
        };
        let timeout = top
            .get_node("timeout")
            .and_then(|n| self.duration(n, "timeout"))
            .unwrap_or(DEFAULT_TIMEOUT);
        // Every declared name, even one whose spec is broken (no cascades).
        let param_names: BTreeSet<String> = top
            .get_mapping("params")
            .map(|m| m.keys().map(|k| k.as_str().to_string()).collect())
            .unwrap_or_default();
        let lock = top.get_node("lock").and_then(|n| {
            let s = self.string(n, "lock")?;
            self.check_template(
                n.span(),
                &s,
                false,
                &param_names,
                &BTreeSet::new(),
                None,
                "lock",
            );
            Some(s)
        });
        let mut steps = Vec::new();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        match top.get_node("steps") {
            Some(Node::Sequence(seq)) => {
                if seq.is_empty() {
                    self.err(
                        seq.span(),
                        "steps is empty; a playbook needs at least one step",
                    );
                }
                for n in seq.iter() {
                    let declared = n
                        .as_mapping()
                        .and_then(|m| m.get_scalar("id"))
                        .map(|s| s.as_str().to_string());
                    if let Some(step) = self.step(n, &param_names, &ids, mutates) {
                        steps.push(step);
                    }
                    // Declared even when the step is broken: no cascade of
                    // "not an earlier step" errors after one mistake.
                    ids.extend(declared);
                }
            }
            Some(n) => self.err(n.span(), "steps must be a list of steps"),
            None => self.err(top.span(), "missing 'steps' (a list of steps)"),
        }
        let result = top.get_node("result").and_then(|n| {
            let s = self.string(n, "result")?;
            self.check_template(n.span(), &s, false, &param_names, &ids, None, "result");
            Some(s)
        });
        let labels = top
            .get_node("labels")
            .map(|n| self.labels(n, &param_names, &ids))
            .unwrap_or_default();
        let chart = top
            .get_node("chart")
            .and_then(|n| self.chart(n, &param_names, &steps));
        let whole_objects = names_raw(
            steps
                .iter()
                .flat_map(|s| {
                    let mut args = Vec::new();
                    strings_in(&s.args, &mut args);
                    args.into_iter()
                        .chain(s.when.as_deref())
                        .chain(s.foreach.as_deref())
                })
                .chain(result.as_deref())
                .chain(labels.iter().map(String::as_str))
                .chain(lock.as_deref())
                .chain(chart.as_ref().map(|c| c.title.as_str())),
        );
        for s in &mut steps {
            s.whole_objects = whole_objects;
        }
        Playbook {
            name,
            summary,
            params,
            mutates,
            approval,
            lock,
            timeout,
            steps,
            result,
            labels,
            chart,
            file: self.file.to_string(),
        }
    }

    /// `chart:`: names a `prometheus.range` step of this playbook (the only
    /// kind whose output is series over time) and a title template.
    fn chart(
        &mut self,
        node: &Node,
        params: &BTreeSet<String>,
        steps: &[Step],
    ) -> Option<ChartSpec> {
        const SHAPE: &str = "chart must be a mapping like { step: history, title: \"CPU of {{ cluster.name }}\", y: \"ratio\" }";
        let Some(m) = node.as_mapping() else {
            self.err(node.span(), SHAPE);
            return None;
        };
        self.unknown_keys(m, &["step", "title", "y"], "chart");
        let (Some(step_node), Some(title_node)) = (m.get_node("step"), m.get_node("title")) else {
            self.err(node.span(), format!("{SHAPE}: step and title are required"));
            return None;
        };
        let step = self.string(step_node, "chart.step")?;
        let ranges: Vec<&str> = steps
            .iter()
            .filter(|s| s.action_name() == "prometheus.range")
            .map(|s| s.id.as_str())
            .collect();
        if !ranges.contains(&step.as_str()) {
            let known = if ranges.is_empty() {
                "this playbook has no prometheus.range step; add one and name its id".to_string()
            } else {
                format!(
                    "name one of its prometheus.range steps: {}",
                    ranges.join(", ")
                )
            };
            self.err(
                step_node.span(),
                format!("chart.step '{step}' is not a prometheus.range step; {known}"),
            );
            return None;
        }
        let title = self.string(title_node, "chart.title")?;
        let ids: BTreeSet<String> = steps.iter().map(|s| s.id.clone()).collect();
        self.check_template(
            title_node.span(),
            &title,
            false,
            params,
            &ids,
            None,
            "chart.title",
        );
        let y = match m.get_node("y") {
            Some(n) => self.string(n, "chart.y")?,
            None => "value".to_string(),
        };
        Some(ChartSpec { step, title, y })
    }

    /// `labels:`: a list of templates, each checked like `result`.
    fn labels(
        &mut self,
        node: &Node,
        params: &BTreeSet<String>,
        ids: &BTreeSet<String>,
    ) -> Vec<String> {
        let Node::Sequence(seq) = node else {
            self.err(
                node.span(),
                "labels must be a list of templates, like [\"triage: {{ steps.diagnosis.top.id }}\"]",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for n in seq.iter() {
            if let Some(s) = self.string(n, "a label") {
                self.check_template(n.span(), &s, false, params, ids, None, "labels");
                out.push(s);
            }
        }
        out
    }

    fn params(&mut self, node: &Node) -> Vec<ParamSpec> {
        let Some(m) = node.as_mapping() else {
            self.err(
                node.span(),
                "params must be a mapping of name → { type: ... }",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m.iter() {
            let name = k.as_str().to_string();
            if name == "steps" || name == "item" {
                self.err(
                    k.span(),
                    format!("'{name}' is reserved for templates; pick another parameter name"),
                );
                continue;
            }
            let Some(pm) = v.as_mapping() else {
                self.err(
                    v.span(),
                    format!("param '{name}' must be a mapping like {{ type: hub }}"),
                );
                continue;
            };
            self.unknown_keys(pm, PARAM_KEYS, "param");
            let ty = match pm.get_node("type") {
                Some(t) => {
                    let word = t.as_scalar().map(|s| s.as_str()).unwrap_or("");
                    match ParamType::parse(word) {
                        Some(ty) => Some(ty),
                        None => {
                            let hint = suggest(word, ParamType::WORDS.iter().copied());
                            self.err(
                                t.span(),
                                format!(
                                    "unknown param type '{word}'{hint}; expected one of: {}",
                                    ParamType::WORDS.join(", ")
                                ),
                            );
                            None
                        }
                    }
                }
                None => {
                    self.err(
                        pm.span(),
                        format!("param '{name}' has no type; add e.g. `type: string`"),
                    );
                    None
                }
            };
            let values: Vec<String> = match pm.get_node("values") {
                Some(Node::Sequence(s)) => s
                    .iter()
                    .filter_map(|n| n.as_scalar().map(|s| s.as_str().to_string()))
                    .collect(),
                Some(n) => {
                    self.err(n.span(), "values must be a list of words");
                    Vec::new()
                }
                None => Vec::new(),
            };
            if ty == Some(ParamType::Enum) && values.is_empty() {
                self.err(
                    pm.span(),
                    format!("param '{name}' is an enum: list its `values`"),
                );
            }
            let default = pm.get_node("default").map(node_json);
            let required = match pm.get_node("required") {
                Some(n) => self.boolean(n, "required").unwrap_or(true),
                None => default.is_none() && ty != Some(ParamType::Hubs),
            };
            let max_len = pm
                .get_node("max_len")
                .and_then(|n| self.uint(n, "max_len"))
                .map(|n| n as usize);
            let description = pm
                .get_node("description")
                .and_then(|n| self.string(n, "description"));
            if let Some(ty) = ty {
                out.push(ParamSpec {
                    name,
                    ty,
                    required,
                    default,
                    max_len,
                    values,
                    description,
                });
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn check_template(
        &mut self,
        span: &Span,
        s: &str,
        expression: bool,
        params: &BTreeSet<String>,
        earlier: &BTreeSet<String>,
        item: Option<&str>,
        what: &str,
    ) {
        let refs = match template::references(s, expression) {
            Ok(r) => r,
            Err(e) => {
                self.err(span, format!("{what}: template syntax error: {e}"));
                return;
            }
        };
        let mut reported = BTreeSet::new();
        for r in refs {
            let mut parts = r.split('.');
            let head = parts.next().unwrap_or("");
            if head == "steps" {
                if let Some(id) = parts.next() {
                    if !earlier.contains(id) {
                        let hint = suggest(id, earlier.iter().map(String::as_str));
                        self.err(
                            span,
                            format!("{what}: 'steps.{id}' is not an earlier step{hint}; a template may only use the output of steps before it"),
                        );
                    }
                }
            } else if !(params.contains(head) || Some(head) == item || GLOBALS.contains(&head))
                && reported.insert(head.to_string())
            {
                let known = params.iter().map(String::as_str).chain(item);
                let hint = suggest(head, known);
                self.err(
                    span,
                    format!("{what}: unknown name '{head}'{hint}; templates may use the params ({}), steps.<earlier id>{}",
                        params.iter().cloned().collect::<Vec<_>>().join(", "),
                        item.map(|i| format!(" and '{i}'")).unwrap_or_default()),
                );
            }
        }
    }

    fn walk_templates(
        &mut self,
        node: &Node,
        params: &BTreeSet<String>,
        earlier: &BTreeSet<String>,
        item: Option<&str>,
        what: &str,
    ) {
        match node {
            Node::Scalar(s) => {
                if template::is_template(s.as_str()) {
                    self.check_template(s.span(), s.as_str(), false, params, earlier, item, what)
                }
            }
            Node::Sequence(seq) => {
                for n in seq.iter() {
                    self.walk_templates(n, params, earlier, item, what);
                }
            }
            Node::Mapping(m) => {
                for (k, v) in m.iter() {
                    self.walk_templates(
                        v,
                        params,
                        earlier,
                        item,
                        &format!("{what}.{}", k.as_str()),
                    );
                }
            }
        }
    }

    fn step(
        &mut self,
        node: &Node,
        params: &BTreeSet<String>,
        earlier: &BTreeSet<String>,
        playbook_mutates: bool,
    ) -> Option<Step> {
        let Some(m) = node.as_mapping() else {
            self.err(
                node.span(),
                "a step is a mapping: { id: ..., <action>: { ... } }",
            );
            return None;
        };
        let id = match m.get_node("id") {
            Some(n) => {
                let id = self.string(n, "id")?;
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.err(n.span(), format!("step id '{id}' must be letters, digits and '_' (it is used as steps.{id} in templates)"));
                } else if earlier.contains(&id) {
                    self.err(
                        n.span(),
                        format!("duplicate step id '{id}'; every step needs its own id"),
                    );
                }
                id
            }
            None => {
                self.err(m.span(), "step has no 'id'");
                return None;
            }
        };
        let action_keys: Vec<(&MarkedScalarNode, &Node)> = m
            .iter()
            .filter(|(k, _)| !STEP_KEYS.contains(&k.as_str()))
            .collect();
        let (key, args_node) = match action_keys.as_slice() {
            [one] => *one,
            [] => {
                self.err(
                    m.span(),
                    format!(
                        "step '{id}' has no action; add one of: {}",
                        self.registry.names().collect::<Vec<_>>().join(", ")
                    ),
                );
                return None;
            }
            [_, second, ..] => {
                self.err(
                    second.0.span(),
                    format!(
                        "step '{id}' has more than one action ({}); use one action per step",
                        action_keys
                            .iter()
                            .map(|(k, _)| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                return None;
            }
        };
        let Some(spec) = self.registry.get(key.as_str()).cloned() else {
            let known: Vec<&str> = self.registry.names().collect();
            let hint = suggest(key.as_str(), known.iter().copied());
            let msg = if key.as_str().contains('.') {
                format!(
                    "unknown step kind '{}'{hint}; known: {}",
                    key.as_str(),
                    known.join(", ")
                )
            } else {
                format!(
                    "unknown step field or kind '{}'{hint}; step fields: {}; step kinds: {}",
                    key.as_str(),
                    STEP_KEYS.join(", "),
                    known.join(", ")
                )
            };
            self.err(key.span(), msg);
            return None;
        };
        if spec.mutates && !playbook_mutates {
            self.err(
                key.span(),
                format!("step '{id}' uses {} which changes the cluster, but the playbook is not marked `mutates: true` (add it, so runs need approval and show a plan)", spec.name),
            );
        }
        let foreach = m
            .get_node("foreach")
            .and_then(|n| self.string(n, "foreach").map(|s| (n.span(), s)));
        let as_name = match m.get_node("as") {
            Some(n) => self.string(n, "as").unwrap_or_else(|| "item".into()),
            None => "item".into(),
        };
        if m.get_node("as").is_some() && foreach.is_none() {
            self.err(
                m.get_node("as")
                    .map(|n| *n.span())
                    .as_ref()
                    .unwrap_or(m.span()),
                "`as` only makes sense with `foreach`",
            );
        }
        if let Some((span, s)) = &foreach {
            let span = **span;
            self.check_template(&span, s, true, params, earlier, None, "foreach");
        }
        let item = foreach.as_ref().map(|_| as_name.as_str());
        let when = m.get_node("when").and_then(|n| {
            let s = self.string(n, "when")?;
            self.check_template(n.span(), &s, true, params, earlier, None, "when");
            Some(s)
        });
        let args = match args_node {
            Node::Mapping(_) => node_json(args_node),
            _ => {
                self.err(
                    args_node.span(),
                    format!(
                        "{} takes a mapping of arguments, e.g. {{ cluster: ..., namespace: ... }}",
                        spec.name
                    ),
                );
                return None;
            }
        };
        self.walk_templates(args_node, params, earlier, item, spec.name);
        if let Err(e) = (spec.check)(&args) {
            self.arg_error(key, args_node, spec.name, &e);
        }
        let timeout = m
            .get_node("timeout")
            .and_then(|n| self.duration(n, "step timeout"));
        let retries = m
            .get_node("retries")
            .and_then(|n| self.uint(n, "retries"))
            .map(|n| n as u32)
            .unwrap_or(DEFAULT_RETRIES);
        let concurrency = m
            .get_node("concurrency")
            .and_then(|n| self.uint(n, "concurrency"))
            .map(|n| n.max(1) as usize)
            .unwrap_or(DEFAULT_CONCURRENCY);
        let continue_on_error = m
            .get_node("continue_on_error")
            .and_then(|n| self.boolean(n, "continue_on_error"))
            .unwrap_or(false);
        Some(Step {
            id,
            action: spec,
            args,
            when,
            foreach: foreach.map(|(_, s)| s),
            as_name,
            concurrency,
            timeout,
            retries,
            continue_on_error,
            whole_objects: true,
        })
    }

    /// Place a serde error from an args check on the offending key.
    fn arg_error(&mut self, key: &MarkedScalarNode, args: &Node, action: &str, e: &str) {
        // A type mismatch on a still-templated value is settled at run time.
        if e.contains("{{") || e.contains("{%") {
            return;
        }
        let field = e.split('`').nth(1).unwrap_or("");
        let map = args.as_mapping();
        if e.starts_with("unknown field") {
            let span = map
                .and_then(|m| m.keys().find(|k| k.as_str() == field).map(|k| *k.span()))
                .unwrap_or(*key.span());
            let expected = e
                .split_once("expected ")
                .map(|(_, x)| x.replace('`', ""))
                .unwrap_or_default();
            let hint = suggest(
                field,
                expected
                    .split(", ")
                    .map(|s| s.trim_start_matches("one of ").trim()),
            );
            self.err(
                &span,
                format!("{action}: unknown argument '{field}'{hint}; expected {expected}"),
            );
        } else if e.starts_with("missing field") {
            self.err(key.span(), format!("{action}: missing argument '{field}'"));
        } else {
            self.err(args.span(), format!("{action}: {e}"));
        }
    }
}

/// Every string inside `v` (a step's args, where templates live).
fn strings_in<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings_in(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings_in(i, out)),
        _ => {}
    }
}

/// Whether any of these templates names `raw` (an object kept whole) as a
/// word: `p.raw.spec`, `item["raw"]`. Text is the only evidence before a
/// run (a loop variable's attributes are not declared names), so any
/// mention counts, in a template, an expression or plain text, and the
/// whole objects are kept; only a key built at run time (`p[k]` with
/// `k == "raw"`) would be missed.
fn names_raw<'a>(templates: impl IntoIterator<Item = &'a str>) -> bool {
    static RAW: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\braw\b").expect("a valid regex"));
    templates.into_iter().any(|t| RAW.is_match(t))
}
