//! The loaded, validated shape of a playbook: what the loader produces and
//! the executor, the planner and `opsbot rbac` consume.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::actions::ActionSpec;

/// Every playbook from a directory, by name.
#[derive(Debug, Clone, Default)]
pub struct Playbooks {
    pub(crate) by_name: BTreeMap<String, Arc<Playbook>>,
}

impl Playbooks {
    /// The playbook called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Playbook>> {
        self.by_name.get(name)
    }

    /// All playbooks, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Playbook>> {
        self.by_name.values()
    }

    /// How many playbooks were loaded.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when the directory held no playbook.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// One runbook: typed params, steps, a result template.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub name: String,
    pub summary: String,
    /// In declaration order (the order commands list them).
    pub params: Vec<ParamSpec>,
    /// Contains mutating steps: needs approval and shows a plan.
    pub mutates: bool,
    pub approval: Approval,
    /// Template of the lock key (`hub/{{ hub.cluster }}/{{ hub.namespace }}`):
    /// two runs with the same key never run at once.
    pub lock: Option<String>,
    /// Budget for the whole run.
    pub timeout: Duration,
    pub steps: Vec<Step>,
    /// Template of the answer people read.
    pub result: Option<String>,
    /// Templates of short names classifying the answer (`triage: image-pull`),
    /// rendered with `result`. A platform that can tag the conversation uses
    /// them (GitHub labels the issue); in text they would only repeat the answer.
    pub labels: Vec<String>,
    /// A picture of one `prometheus.range` step's series, for platforms
    /// that show images.
    pub chart: Option<ChartSpec>,
    /// The file it came from (for messages).
    pub file: String,
}

/// `chart: { step: history, title: "...", y: "..." }`: draw that range
/// step's series as lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSpec {
    /// The id of an earlier `prometheus.range` step.
    pub step: String,
    /// Template of the chart's title, rendered with `result`.
    pub title: String,
    /// What the y axis measures (`CPU requested / allocatable`).
    pub y: String,
}

/// How many people other than the requester must approve a mutating run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    pub approvers: u32,
}

impl Default for Approval {
    fn default() -> Self {
        Approval { approvers: 1 }
    }
}

/// One declared parameter; the command layer resolves values to these types.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub ty: ParamType,
    /// Absent without a default → the run refuses to start.
    pub required: bool,
    pub default: Option<serde_json::Value>,
    /// For `text`/`string`.
    pub max_len: Option<usize>,
    /// For `enum`.
    pub values: Vec<String>,
    pub description: Option<String>,
}

/// The value types a parameter may have, and the JSON shape each takes in
/// templates: `hub` → `{name, cluster, namespace}`, `hubs` → a list of those,
/// `cluster` → `{name}`, `user` → `{name, escaped, pod, server, input}` (`input`: `alice:gpu` as typed), `node` → a string,
/// `int`/`bool` → numbers/booleans, the rest → strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Hub,
    Hubs,
    Cluster,
    User,
    Node,
    Text,
    String,
    Int,
    Bool,
    Duration,
    Enum,
}

impl ParamType {
    /// Every type word, as written in YAML.
    pub const WORDS: &'static [&'static str] = &[
        "hub", "hubs", "cluster", "user", "node", "text", "string", "int", "bool", "duration",
        "enum",
    ];

    /// The type for a YAML type word (`None` for an unknown word).
    pub fn parse(word: &str) -> Option<ParamType> {
        Some(match word {
            "hub" => ParamType::Hub,
            "hubs" => ParamType::Hubs,
            "cluster" => ParamType::Cluster,
            "user" => ParamType::User,
            "node" => ParamType::Node,
            "text" => ParamType::Text,
            "string" => ParamType::String,
            "int" => ParamType::Int,
            "bool" => ParamType::Bool,
            "duration" => ParamType::Duration,
            "enum" => ParamType::Enum,
            _ => return None,
        })
    }

    /// The YAML word for this type.
    pub fn word(self) -> &'static str {
        match self {
            ParamType::Hub => "hub",
            ParamType::Hubs => "hubs",
            ParamType::Cluster => "cluster",
            ParamType::User => "user",
            ParamType::Node => "node",
            ParamType::Text => "text",
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Bool => "bool",
            ParamType::Duration => "duration",
            ParamType::Enum => "enum",
        }
    }
}

/// One step: an action with (templated) args and its control fields.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub action: Arc<ActionSpec>,
    /// The action's arguments, strings possibly holding templates.
    pub args: serde_json::Value,
    /// Jinja expression; the step is skipped when false.
    pub when: Option<String>,
    /// Jinja expression yielding a list: the step runs once per item.
    pub foreach: Option<String>,
    /// Name of the loop variable (default `item`).
    pub as_name: String,
    /// Items in flight at once for `foreach`.
    pub concurrency: usize,
    /// Budget for the step including retries.
    pub timeout: Option<Duration>,
    /// Retries on transient failures (429, 5xx, transport errors).
    pub retries: u32,
    /// A failure is recorded and the run goes on (ends as partial).
    pub continue_on_error: bool,
    /// Its output keeps each object it read whole, under `raw`: set when a
    /// template of the playbook names `raw`. Copying whole objects (and
    /// converting and dropping the copies) is most of what a list costs, so
    /// a playbook that reads only the summaries does not pay for it.
    pub whole_objects: bool,
}

impl Step {
    /// `kube.rollout_restart`.
    pub fn action_name(&self) -> &'static str {
        self.action.name
    }

    /// Whether the step changes something (dry-run and approval apply).
    pub fn mutates(&self) -> bool {
        self.action.mutates
    }
}
