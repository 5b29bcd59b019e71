//! The executor: runs a playbook's steps in order with `when`, `foreach`
//! fan-out, retries with backoff, per-step and per-run timeouts and
//! cancellation, reporting progress as it goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::model::{Playbook, Step};
use super::template;
use crate::actions::{ActionCall, ActionError, Target};
use crate::cluster::ClusterSet;
use crate::retry::{GaveUp, Retry, RetryPolicy};

/// Real changes, or server-side dry runs (`dryRun=All`) of every mutating step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Real,
    DryRun,
}

/// What one run needs from its caller.
#[derive(Clone)]
pub struct ExecContext {
    pub clusters: ClusterSet,
    pub mode: Mode,
    /// Cancels the run: it stops between steps and aborts in-flight waits.
    pub cancel: CancellationToken,
    /// Live progress for chat status messages and the audit log.
    pub progress: UnboundedSender<Progress>,
    /// Run Kubernetes calls as this Kubernetes user when set.
    pub impersonate: Option<String>,
    /// Asked before every change a mutating step makes (see [`ChangeGuard`]).
    pub guard: Option<Arc<dyn ChangeGuard>>,
}

/// One change a mutating step is about to make, fully resolved: what the
/// audit log and an approver see (`patch` `apps/v1 deployments staging/hub
/// @aws-us`).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub step: &'a str,
    pub verb: &'a str,
    pub target: &'a str,
    /// A server-side dry run, not the real change.
    pub dry_run: bool,
}

impl Change<'_> {
    /// The change as one line (`restart: patch apps/v1 deployments staging/hub @aws-us`),
    /// the unit an approver approves and the executor checks.
    pub fn line(&self) -> String {
        format!("{}: {} {}", self.step, self.verb, self.target)
    }
}

/// Consulted before each call of a mutating step, after its target is
/// resolved and before anything is sent to the cluster. The runner uses it
/// to record the intent durably (so the audit log shows a change that was
/// attempted even when the process dies during the call) and to refuse a
/// change nobody approved; a dry run uses it to learn what would change.
/// An `Err` fails the step with that reason and nothing is sent.
pub trait ChangeGuard: Send + Sync {
    fn before_change<'a>(&'a self, change: Change<'a>) -> BoxFuture<'a, Result<(), String>>;
}

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    Ok,
    Skipped,
    Failed(String),
    /// A fan-out where some items failed.
    Partial {
        ok: usize,
        failed: usize,
    },
}

/// Live progress of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    StepStarted {
        id: String,
        action: String,
    },
    StepFinished {
        id: String,
        action: String,
        /// API verb (`get`, `list`, `patch`, `delete`, `GET`).
        verb: String,
        /// `apps/v1 deployments staging/hub @aws-us`.
        target: String,
        outcome: StepOutcome,
        duration: Duration,
        attempts: u32,
        dry_run: bool,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed(String),
    /// Finished, but some fan-out items or `continue_on_error` steps failed.
    Partial(String),
    Cancelled,
    TimedOut,
}

/// The end of a run: its outcome, the answer for people and every step output.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub outcome: Outcome,
    /// The rendered `result` template; on failure a message naming the step.
    pub output: String,
    /// Step outputs by id.
    pub steps: Value,
    /// The rendered `labels` of a run that got as far as its result: each
    /// trimmed, empty ones and repeats dropped.
    pub labels: Vec<String>,
    /// The pictures its `chart:` asked for, drawn once it got as far as
    /// its result (PNG bytes, kept out of audit records).
    pub charts: Vec<crate::chat::Chart>,
}

/// Problems found before any step runs (planning, params).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExecError {
    #[error("missing parameter '{0}'")]
    MissingParam(String),
    #[error("parameter '{name}': {message}")]
    BadParam { name: String, message: String },
    #[error("{what}: {message}")]
    Template { what: String, message: String },
}

/// The params with defaults applied; refuses missing required ones.
pub(crate) fn bind_params(pb: &Playbook, params: &Value) -> Result<Map<String, Value>, ExecError> {
    let mut out = params.as_object().cloned().unwrap_or_default();
    for p in &pb.params {
        let present = out.get(&p.name).is_some_and(|v| !v.is_null());
        if !present {
            match (&p.default, p.ty) {
                (Some(d), _) => {
                    out.insert(p.name.clone(), d.clone());
                }
                (None, super::ParamType::Hubs) => {
                    out.insert(p.name.clone(), json!([]));
                }
                (None, _) if p.required => return Err(ExecError::MissingParam(p.name.clone())),
                (None, _) => {
                    out.insert(p.name.clone(), Value::Null);
                }
            }
        }
        if let (Some(max), Some(Value::String(s))) = (p.max_len, out.get(&p.name)) {
            if s.chars().count() > max {
                return Err(ExecError::BadParam {
                    name: p.name.clone(),
                    message: format!("{} characters; at most {max} allowed", s.chars().count()),
                });
            }
        }
    }
    Ok(out)
}

struct State {
    /// Each step's output as JSON: what the run's record keeps.
    steps: Map<String, Value>,
    scope: Scope,
    current: Option<String>,
    partial: Vec<String>,
}

/// What templates see: the parameters and `steps`, each converted once into
/// template values when it is bound or its step ends. A step's context is
/// then a handful of shared references, not a deep copy of every earlier
/// output (a `kube.list` of a hub's pods) per step and per `foreach` item.
#[derive(Default)]
struct Scope {
    params: std::collections::BTreeMap<String, minijinja::Value>,
    steps: std::collections::BTreeMap<String, minijinja::Value>,
}

impl Scope {
    fn new(params: &Map<String, Value>) -> Scope {
        Scope {
            params: params
                .iter()
                .map(|(k, v)| (k.clone(), template::context(v)))
                .collect(),
            steps: Default::default(),
        }
    }

    /// The template context, with `extra` (a `foreach` item) bound too.
    fn context(&self, extra: Option<(&str, &Value)>) -> minijinja::Value {
        let mut all = self.params.clone();
        all.insert("steps".into(), minijinja::Value::from(self.steps.clone()));
        if let Some((name, v)) = extra {
            all.insert(name.to_string(), template::context(v));
        }
        minijinja::Value::from(all)
    }
}

enum Stop {
    Failed(String),
    Cancelled,
}

/// Run `pb` with resolved `params`. Never panics on bad input: every problem
/// becomes the [`RunResult`]'s outcome and message.
pub async fn execute(pb: &Playbook, params: Value, mut ctx: ExecContext) -> RunResult {
    // A run that changes something, and its dry run, read the cluster from
    // the API server, never the watch cache: its reads resolve the target
    // of a change (and what an approver approved is compared with them).
    if pb.mutates || ctx.mode == Mode::DryRun {
        ctx.clusters = ctx.clusters.without_cache();
    }
    let bound = match bind_params(pb, &params) {
        Ok(b) => b,
        Err(e) => {
            return RunResult {
                outcome: Outcome::Failed(e.to_string()),
                output: format!("{}: {e}", pb.name),
                steps: json!({}),
                labels: Vec::new(),
                charts: Vec::new(),
            }
        }
    };
    let mut state = State {
        steps: Map::new(),
        scope: Scope::new(&bound),
        current: None,
        partial: Vec::new(),
    };
    let run = tokio::time::timeout(pb.timeout, run_steps(pb, &ctx, &mut state)).await;
    let steps = Value::Object(std::mem::take(&mut state.steps));
    match run {
        Err(_) => {
            let during = state
                .current
                .as_ref()
                .map(|s| format!(" during step {s}"))
                .unwrap_or_default();
            let msg = format!(
                "playbook {} timed out after {}{during}",
                pb.name,
                humantime::format_duration(pb.timeout)
            );
            RunResult {
                outcome: Outcome::TimedOut,
                output: msg,
                steps,
                labels: Vec::new(),
                charts: Vec::new(),
            }
        }
        Ok(Err(Stop::Cancelled)) => RunResult {
            outcome: Outcome::Cancelled,
            output: format!(
                "playbook {} was cancelled{}",
                pb.name,
                state
                    .current
                    .as_ref()
                    .map(|s| format!(" during step {s}"))
                    .unwrap_or_default()
            ),
            steps,
            labels: Vec::new(),
            charts: Vec::new(),
        },
        Ok(Err(Stop::Failed(msg))) => RunResult {
            outcome: Outcome::Failed(msg.clone()),
            output: msg,
            steps,
            labels: Vec::new(),
            charts: Vec::new(),
        },
        Ok(Ok(())) => {
            let tctx = state.scope.context(None);
            let rendered = match &pb.result {
                Some(t) => template::render_text(t, &tctx)
                    .map(|s| s.trim_end().to_string())
                    .map_err(|e| format!("the result template of {} failed: {e}", pb.name)),
                None => Ok(format!("{} finished.", pb.name)),
            };
            match (rendered, state.partial.is_empty()) {
                (Err(e), _) => RunResult {
                    outcome: Outcome::Failed(e.clone()),
                    output: e,
                    steps,
                    labels: Vec::new(),
                    charts: Vec::new(),
                },
                (Ok(out), true) => RunResult {
                    outcome: Outcome::Succeeded,
                    output: out,
                    labels: render_labels(pb, &tctx),
                    charts: super::chart::draw(pb, &tctx, &steps).await,
                    steps,
                },
                (Ok(out), false) => {
                    let why = state.partial.join("; ");
                    RunResult {
                        outcome: Outcome::Partial(why.clone()),
                        output: format!("{out}\n\nPartial failure: {why}"),
                        labels: render_labels(pb, &tctx),
                        charts: super::chart::draw(pb, &tctx, &steps).await,
                        steps,
                    }
                }
            }
        }
    }
}

/// The playbook's `labels`, rendered. A label is an extra (the answer is
/// already rendered), so one that fails to render is logged and left out
/// rather than failing a run that did its work.
fn render_labels(pb: &Playbook, ctx: &minijinja::Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &pb.labels {
        match template::render_text(t, ctx) {
            Ok(l) => {
                let l = l.trim().to_string();
                if !l.is_empty() && !out.contains(&l) {
                    out.push(l);
                }
            }
            Err(e) => {
                tracing::warn!(playbook = %pb.name, error = %e, "a label template failed; label left out")
            }
        }
    }
    out
}

fn set_output(state: &mut State, id: &str, v: Value) {
    state
        .scope
        .steps
        .insert(id.to_string(), template::context(&v));
    state.steps.insert(id.to_string(), v);
}

async fn run_steps(pb: &Playbook, ctx: &ExecContext, state: &mut State) -> Result<(), Stop> {
    for step in &pb.steps {
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        state.current = Some(step.id.clone());
        let started = Instant::now();
        let action = step.action_name().to_string();
        let tctx = state.scope.context(None);
        let _ = ctx.progress.send(Progress::StepStarted {
            id: step.id.clone(),
            action: action.clone(),
        });
        let finish = |outcome: StepOutcome, t: &Target, attempts: u32| Progress::StepFinished {
            id: step.id.clone(),
            action: action.clone(),
            verb: t.verb.clone(),
            target: t.target.clone(),
            outcome,
            duration: started.elapsed(),
            attempts,
            dry_run: ctx.mode == Mode::DryRun && step.mutates(),
        };
        if let Some(when) = &step.when {
            match template::truthy(when, &tctx) {
                Ok(true) => {}
                Ok(false) => {
                    set_output(state, &step.id, json!({ "skipped": true }));
                    let _ = ctx
                        .progress
                        .send(finish(StepOutcome::Skipped, &Target::default(), 0));
                    continue;
                }
                Err(e) => {
                    let msg = format!("step {} ({action}): `when` failed: {e}", step.id);
                    let _ = ctx.progress.send(finish(
                        StepOutcome::Failed(msg.clone()),
                        &Target::default(),
                        0,
                    ));
                    return Err(Stop::Failed(msg));
                }
            }
        }
        let fut = async {
            match &step.foreach {
                None => {
                    let (r, t, attempts) = run_one(step, ctx, &state.scope, None).await;
                    let label = format!("step {} ({})", step.id, step.action_name());
                    (r.and_then(|v| fanned_out(&label, v)), t, attempts)
                }
                Some(expr) => fan_out(step, ctx, &state.scope, expr).await,
            }
        };
        let stepped = tokio::select! {
            _ = ctx.cancel.cancelled() => None,
            r = fut => Some(r),
        };
        let Some((result, target, attempts)) = stepped else {
            let _ = ctx.progress.send(finish(
                StepOutcome::Failed("cancelled".into()),
                &Target::default(),
                0,
            ));
            return Err(Stop::Cancelled);
        };
        match result {
            Ok((output, outcome)) => {
                if let StepOutcome::Partial { ok, failed } = &outcome {
                    let errors: Vec<String> = output["results"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|r| r["ok"] == false)
                        .map(|r| r["error"].as_str().unwrap_or("").to_string())
                        .collect();
                    state.partial.push(format!(
                        "step {}: {failed} of {} items failed: {}",
                        step.id,
                        ok + failed,
                        errors.join("; ")
                    ));
                }
                set_output(state, &step.id, output);
                let _ = ctx.progress.send(finish(outcome, &target, attempts));
            }
            Err(msg) => {
                let _ =
                    ctx.progress
                        .send(finish(StepOutcome::Failed(msg.clone()), &target, attempts));
                // A step that saw the cancel itself (a rollout wait) ends
                // with an error as the select above lets it through: the run
                // was cancelled, not failed.
                if ctx.cancel.is_cancelled() {
                    return Err(Stop::Cancelled);
                }
                if step.continue_on_error {
                    set_output(state, &step.id, json!({ "error": msg, "failed": true }));
                    state.partial.push(msg);
                } else {
                    return Err(Stop::Failed(msg));
                }
            }
        }
    }
    state.current = None;
    Ok(())
}

type StepRun = (Result<(Value, StepOutcome), String>, Target, u32);

/// The outcome of a step that fans out by itself (`fleet.*` ask each
/// cluster once for all its hubs) and answers in the shape of a `foreach`
/// (`results` of `{ok, error}`, `ok`, `failed`): partial when some items
/// failed, failed when all did, as for `foreach`. Any other output: ok.
fn fanned_out(label: &str, output: Value) -> Result<(Value, StepOutcome), String> {
    let (Some(results), Some(ok), Some(failed)) = (
        output["results"].as_array(),
        output["ok"].as_u64(),
        output["failed"].as_u64(),
    ) else {
        return Ok((output, StepOutcome::Ok));
    };
    if failed == 0 {
        return Ok((output, StepOutcome::Ok));
    }
    if ok == 0 {
        let first = results
            .iter()
            .find_map(|r| r["error"].as_str())
            .unwrap_or("");
        return Err(format!(
            "{label}: all {failed} items failed; first: {first}"
        ));
    }
    let (ok, failed) = (ok as usize, failed as usize);
    Ok((output, StepOutcome::Partial { ok, failed }))
}

async fn fan_out(step: &Step, ctx: &ExecContext, scope: &Scope, expr: &str) -> StepRun {
    let label = format!("step {} ({})", step.id, step.action_name());
    let items = match template::eval(expr, &scope.context(None)) {
        Ok(Value::Array(items)) => items,
        Ok(Value::Null) => Vec::new(),
        Ok(other) => {
            return (
                Err(format!("{label}: foreach must yield a list, got {other}")),
                Target::default(),
                0,
            )
        }
        Err(e) => {
            return (
                Err(format!("{label}: foreach failed: {e}")),
                Target::default(),
                0,
            )
        }
    };
    let results: Vec<(Value, Result<Value, String>, Target, u32)> = futures::stream::iter(items)
        .map(|item| async move {
            let (r, t, a) = run_one(step, ctx, scope, Some(&item)).await;
            (item, r, t, a)
        })
        .buffered(step.concurrency.max(1))
        .collect()
        .await;
    let mut ok = 0;
    let mut failed = 0;
    let mut attempts = 0;
    let mut targets = Vec::new();
    let mut out = Vec::new();
    for (item, r, t, a) in results {
        attempts = attempts.max(a);
        if !t.target.is_empty() {
            targets.push(t.target.clone());
        }
        match r {
            Ok(v) => {
                ok += 1;
                out.push(json!({ "item": item, "ok": true, "output": v, "error": null }));
            }
            Err(e) => {
                failed += 1;
                out.push(json!({ "item": item, "ok": false, "output": null, "error": e }));
            }
        }
    }
    let verb = (step.action.describe)(&step.args).verb;
    let target = Target {
        verb,
        target: targets.join(", "),
    };
    let output = json!({ "results": out, "ok": ok, "failed": failed, "count": ok + failed });
    let outcome = if failed == 0 {
        StepOutcome::Ok
    } else if ok == 0 {
        let first = output["results"][0]["error"]
            .as_str()
            .unwrap_or("")
            .to_string();
        return (
            Err(format!(
                "{label}: all {failed} items failed; first: {first}"
            )),
            target,
            attempts,
        );
    } else {
        StepOutcome::Partial { ok, failed }
    };
    (Ok((output, outcome)), target, attempts)
}

/// Render args for one invocation and run it with retries and the step timeout.
async fn run_one(
    step: &Step,
    ctx: &ExecContext,
    scope: &Scope,
    item: Option<&Value>,
) -> (Result<Value, String>, Target, u32) {
    let label = |t: &Target| {
        if t.target.is_empty() {
            format!("step {} ({})", step.id, step.action_name())
        } else {
            format!("step {} ({} {})", step.id, step.action_name(), t.target)
        }
    };
    let args = match template::render_value(
        &step.args,
        &scope.context(item.map(|i| (step.as_name.as_str(), i))),
        &mut |_, e| Err(e),
    ) {
        Ok(a) => a,
        Err(e) => {
            let t = Target::default();
            return (Err(format!("{}: template failed: {e}", label(&t))), t, 0);
        }
    };
    let target = (step.action.describe)(&args);
    if let (true, Some(guard)) = (step.mutates(), &ctx.guard) {
        let change = Change {
            step: &step.id,
            verb: &target.verb,
            target: &target.target,
            dry_run: ctx.mode == Mode::DryRun,
        };
        if let Err(why) = guard.before_change(change).await {
            return (Err(format!("{}: {why}", label(&target))), target, 0);
        }
    }
    let mut call = ActionCall {
        args,
        clusters: ctx.clusters.clone(),
        // Every step of a dry run knows it is one: changes are sent with
        // dryRun=All, and a step that waits for a change (a rollout) does
        // not wait for one that was never made.
        dry_run: ctx.mode == Mode::DryRun,
        impersonate: ctx.impersonate.clone(),
        cancel: ctx.cancel.clone(),
        attempt: 0,
        issued_at: chrono::Utc::now(),
        whole_objects: step.whole_objects,
    };
    // A change that is idempotent may be sent again after an answer that
    // leaves open whether it was applied; any other only after a 429.
    let retry_unsure = !step.mutates() || step.action.idempotent;
    let policy = step_policy(step.retries);
    let mut attempts = 0u32;
    let retrying = async {
        let ran = policy
            .run(
                &format!("step {} ({})", step.id, step.action_name()),
                |e: &ActionError| {
                    let hint = if retry_unsure {
                        e.retry_hint()
                    } else {
                        e.retry_hint_if_unapplied()
                    };
                    match hint {
                        Some(Some(after)) => Retry::After(after),
                        Some(None) => Retry::Backoff,
                        None => Retry::Never,
                    }
                },
                || {
                    attempts += 1;
                    call.attempt = attempts;
                    (step.action.run)(call.clone())
                },
            )
            .await;
        ran.map_err(|GaveUp { error, .. }| {
            if !retry_unsure && error.retry_hint().is_some() {
                ActionError::Failed(format!(
                    "{error}; not retried, because the change may already have been applied: check the target before asking again"
                ))
            } else {
                error
            }
        })
    };
    let result: Result<Value, String> = match step.timeout {
        Some(limit) => match tokio::time::timeout(limit, retrying).await {
            Ok(r) => r.map_err(|e: ActionError| e.to_string()),
            Err(_) => Err(format!(
                "timed out after {}",
                humantime::format_duration(limit)
            )),
        },
        None => retrying.await.map_err(|e| e.to_string()),
    };
    (
        result.map_err(|e| format!("{}: {e}", label(&target))),
        target,
        attempts,
    )
}

/// The one retry policy, sized by the step's `retries`: backoff from
/// 200 ms doubling to at most 10 s, a server's Retry-After obeyed up to that.
fn step_policy(retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: retries.saturating_add(1),
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(10),
    }
}
