//! Playbooks: the runbooks opsbot runs (`playbooks/*.yaml`): the model, the
//! loader with `file:line:col` validation, templating, planning and the
//! executor.
//!
//! # Format
//! ```yaml
//! name: hub-restart                 # unique; letters, digits, - and _
//! summary: One line for help        # optional
//! params:                           # name → spec, in order
//!   hub:    { type: hub }           # hub|hubs|cluster|user|node|text|string|int|bool|duration|enum
//!   reason: { type: text, max_len: 200 }
//!   tail:   { type: int, default: 50 }          # with a default → optional
//!   level:  { type: enum, values: [a, b] }
//! mutates: true                     # required when any step changes something
//! approval: { approvers: 1 }        # default 1 when mutating, else 0
//! lock: "hub/{{ hub.cluster }}/{{ hub.namespace }}"   # params only
//! timeout: 5m                       # whole run (default 5m)
//! steps:
//!   - id: find                      # unique, [A-Za-z0-9_]; output is steps.find
//!     kube.list: { cluster: "{{ hub.cluster }}", kind: Deployment, labels: "component=hub" }
//!     when: "hub.namespace != ''"   # optional jinja expression (evaluated once)
//!     foreach: "{{ hubs }}"         # optional: run once per item ...
//!     as: h                         # ... bound to this name (default item)
//!     concurrency: 4                # items in flight (default 4)
//!     timeout: 1m                   # step budget including retries
//!     retries: 3                    # on 429/5xx/transport errors (default 3)
//!     continue_on_error: false      # record the failure and go on (run ends partial)
//! result: |                         # jinja template of the answer
//!   ...
//! ```
//! Template context: the params by name, `steps.<id>` (outputs of earlier
//! steps; a foreach step's output is `{results: [{item, ok, output, error}],
//! ok, failed, count}`; a skipped step's is `{skipped: true}`) and the loop
//! variable. Undefined names are errors (strict). A string that is exactly
//! `{{ expr }}` keeps the expression's type (a list, a number).
//! Parameter values arrive already resolved by the command layer:
//! `hub` → `{name, cluster, namespace}`, `hubs` → list of those,
//! `cluster` → `{name}`, `user` → `{name, escaped, pod, server, input}` (`input`: `alice:gpu` as typed).

mod chart;
mod exec;
mod load;
mod model;
mod plan;
pub mod rbac;
mod read_only;
pub mod template;

pub use crate::actions::Permission;
pub use exec::{
    execute, Change, ChangeGuard, ExecContext, ExecError, Mode, Outcome, Progress, RunResult,
    StepOutcome,
};
pub use load::{DEFAULT_CONCURRENCY, DEFAULT_RETRIES, DEFAULT_TIMEOUT};
pub use model::{Approval, ChartSpec, ParamSpec, ParamType, Playbook, Playbooks, Step};
pub use plan::{Plan, PlannedStep};
pub use read_only::{read_only, NotReadOnly};
