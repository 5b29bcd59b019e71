//! Commands answered by opsbot itself rather than by a playbook: help, the
//! fleet's names, run history, and the approve/deny/cancel decisions.

use std::fmt::Write as _;

use super::{approval, Runs};
use crate::audit::{EventKind, Filter, Record};
use crate::authz::{self, Decision};
use crate::chat::{render, Replies, RunId, Update};
use crate::command::{Builtin, Invocation, Target as CommandTarget, Value};
use crate::config::Person;

/// Answer one builtin command.
pub(super) async fn run(
    runs: &Runs,
    b: Builtin,
    person: &Person,
    inv: &Invocation,
    replies: &Replies,
) -> Result<(), Update> {
    let update = match b {
        Builtin::Help => help(runs, person, inv),
        Builtin::Clusters => clusters(runs, person),
        Builtin::Hubs => hubs(runs, person),
        Builtin::Runs => history(runs, person, inv).await,
        Builtin::Audit => story(runs, person, inv).await,
        Builtin::Approve => return approval::approve(runs, person, run_arg(inv)?, replies).await,
        Builtin::Deny => {
            return approval::deny(
                runs,
                person,
                run_arg(inv)?,
                text_arg(inv, &["reason", "text"]),
                replies,
            )
            .await
        }
        Builtin::Cancel => return approval::cancel(runs, person, run_arg(inv)?, replies).await,
        Builtin::Timeline => timeline(runs, person, inv).await,
    };
    let _ = replies.send(update);
    Ok(())
}

fn run_arg(inv: &Invocation) -> Result<RunId, Update> {
    match inv.args.get("run") {
        Some(Value::Int(n)) => Ok(RunId(*n)),
        _ => Err(Update::Refused {
            run: None,
            reason: "which run?".into(),
            detail: format!("Usage: `{} RUN`, e.g. `{} 42`.", inv.command, inv.command),
        }),
    }
}

fn text_arg(inv: &Invocation, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match inv.args.get(*n) {
        Some(Value::Text(s) | Value::Str(s)) => Some(s.clone()),
        _ => None,
    })
}

fn int_arg(inv: &Invocation, names: &[&str]) -> Option<i64> {
    names.iter().find_map(|n| match inv.args.get(*n) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    })
}

fn words_arg(inv: &Invocation, name: &str) -> Vec<String> {
    fn flat(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::List(items) => items.iter().for_each(|i| flat(i, out)),
            Value::Str(s) | Value::Text(s) | Value::Enum(s) => {
                out.extend(s.split_whitespace().map(str::to_string))
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(v) = inv.args.get(name) {
        flat(v, &mut out);
    }
    out
}

fn help(runs: &Runs, person: &Person, inv: &Invocation) -> Update {
    let ctx = runs.context();
    let grammar = &ctx.grammar;
    let asked = words_arg(inv, "command").join(" ");
    let decision_of = |name: &str| {
        let spec = grammar.get(name);
        let (mutates, approvers) = match spec.map(|s| &s.target) {
            Some(CommandTarget::Playbook(p)) => ctx
                .playbooks
                .get(p)
                .map(|pb| (pb.mutates, pb.approval.approvers))
                .unwrap_or((false, 0)),
            _ => (false, 0),
        };
        authz::decide(
            &ctx.config,
            person,
            name,
            &authz::Target {
                hub: None,
                cluster: None,
            },
            mutates,
            approvers,
        )
    };
    if !asked.is_empty() {
        let Some(spec) = grammar.get(&asked) else {
            let suggestions = grammar.suggest(&asked);
            let hint = if suggestions.is_empty() {
                String::new()
            } else {
                format!(" Did you mean: {}?", suggestions.join(", "))
            };
            return Update::Info {
                title: format!("no command `{asked}`"),
                body: format!("`help` lists what you can run.{hint}"),
            };
        };
        let mut body = format!("`{}`\n{}\n", spec.usage, spec.summary);
        if !spec.examples.is_empty() {
            body.push_str("\nExamples:\n");
            for e in &spec.examples {
                let _ = writeln!(body, "  {e}");
            }
        }
        body.push('\n');
        body.push_str(&match decision_of(&spec.name) {
            Decision::Allow => "You may run this.".to_string(),
            Decision::NeedsApproval { approvers, approvers_who_can } => format!(
                "You may request this; it runs after {approvers} approval(s) from someone else ({}).",
                or_nobody(&approvers_who_can)
            ),
            Decision::Deny { reason, who_can } => format!("{reason}\nWho can: {}.", or_nobody(&who_can)),
        });
        return Update::Info {
            title: format!("help: {}", spec.name),
            body,
        };
    }
    let mut rows = Vec::new();
    let mut hidden = 0;
    for spec in grammar.commands() {
        match decision_of(&spec.name) {
            Decision::Allow => rows.push(vec![spec.usage.clone(), spec.summary.clone()]),
            Decision::NeedsApproval { .. } => rows.push(vec![
                spec.usage.clone(),
                format!("{} (needs approval)", spec.summary),
            ]),
            Decision::Deny { .. } => hidden += 1,
        }
    }
    let mut body = render::table(&["command", "what it does"], &rows);
    body.push_str("\n`help COMMAND` shows examples and who may run it.");
    if hidden > 0 {
        let _ = write!(
            body,
            " {hidden} more command(s) need roles you do not have."
        );
    }
    Update::Info {
        title: format!("what you ({}) can run", person.id),
        body,
    }
}

fn or_nobody(ids: &[String]) -> String {
    if ids.is_empty() {
        "nobody is configured".into()
    } else {
        ids.join(", ")
    }
}

/// The hubs `person`'s roles cover.
fn visible_hubs<'a>(
    runs: &'a Runs,
    person: &'a Person,
) -> impl Iterator<Item = &'a crate::jupyterhub::directory::Hub> + 'a {
    let cfg = &runs.context().config;
    runs.context().hubs.all().iter().filter(move |h| {
        authz::covers(
            cfg,
            person,
            &authz::Target {
                hub: Some(h.name.clone()),
                cluster: Some(h.cluster.clone()),
            },
        )
    })
}

/// "N more outside your roles." when some were left out.
fn left_out(n: usize, what: &str) -> String {
    match n {
        0 => String::new(),
        1 => format!("\n1 {what} outside your roles is not listed."),
        n => format!("\n{n} {what}s outside your roles are not listed."),
    }
}

fn clusters(runs: &Runs, person: &Person) -> Update {
    let ctx = runs.context();
    let hubs: Vec<_> = visible_hubs(runs, person).collect();
    let rows: Vec<Vec<String>> = ctx
        .config
        .clusters
        .iter()
        .filter_map(|c| {
            let on = hubs.iter().filter(|h| h.cluster == c.name).count();
            let covered = authz::covers(
                &ctx.config,
                person,
                &authz::Target {
                    hub: None,
                    cluster: Some(c.name.clone()),
                },
            );
            (covered || on > 0).then(|| vec![c.name.clone(), on.to_string()])
        })
        .collect();
    let hidden = ctx.config.clusters.len() - rows.len();
    Update::Info {
        title: format!("{} clusters", rows.len()),
        body: format!(
            "{}{}",
            render::table(&["cluster", "hubs"], &rows),
            left_out(hidden, "cluster")
        ),
    }
}

fn hubs(runs: &Runs, person: &Person) -> Update {
    let ctx = runs.context();
    let rows: Vec<Vec<String>> = visible_hubs(runs, person)
        .map(|h| {
            vec![
                h.name.clone(),
                h.cluster.clone(),
                h.namespace.clone(),
                h.source.to_string(),
            ]
        })
        .collect();
    let hidden = ctx.hubs.all().len() - rows.len();
    Update::Info {
        title: format!("{} hubs", rows.len()),
        body: format!(
            "{}{}",
            render::table(&["hub", "cluster", "namespace", "from"], &rows),
            left_out(hidden, "hub")
        ),
    }
}

/// `incident timeline [--since D]`: every run the asker may see that was
/// requested in the last D (default 2h), oldest first, as a Markdown list
/// ready for a postmortem: when, who, what, how it ended.
async fn timeline(runs: &Runs, person: &Person, inv: &Invocation) -> Update {
    let window = match inv.args.get("duration").or_else(|| inv.args.get("since")) {
        Some(Value::Duration(d)) => *d,
        _ => std::time::Duration::from_secs(2 * 3600),
    };
    let since = chrono::Utc::now()
        - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(2));
    let filter = Filter {
        since: Some(since),
        limit: 2500,
        ..Filter::default()
    };
    let list = match runs.context().audit.list(&filter).await {
        Ok(list) => list,
        Err(e) => {
            return Update::Refused {
                run: None,
                reason: "the audit log cannot be read".into(),
                detail: e.to_string(),
            }
        }
    };
    let mut lines: Vec<String> = list
        .iter()
        .rev()
        .filter(|r| {
            let target = authz::Target {
                hub: r.hub.clone(),
                cluster: r.cluster.clone(),
            };
            visible(runs, person, &r.person, target)
        })
        .map(|r| {
            let took = (r.updated_at - r.requested_at).num_seconds().max(0);
            format!(
                "- {} UTC · run {} · {} · `{}` → {} ({}s)",
                r.requested_at.format("%H:%M:%S"),
                r.run,
                r.person,
                r.command.replace('`', "'"),
                r.state.replace('_', " "),
                took
            )
        })
        .collect();
    let span = humantime::format_duration(window).to_string();
    if lines.is_empty() {
        lines.push(format!("Nothing was run in the last {span}."));
    }
    Update::Info {
        title: format!("incident timeline: the last {span}"),
        body: lines.join("\n"),
    }
}

/// Runs people may see in `runs`/`audit`: see [`authz::may_see_run`].
fn visible(runs: &Runs, person: &Person, requester: &str, target: authz::Target) -> bool {
    authz::may_see_run(&runs.context().config, person, requester, &target)
}

async fn history(runs: &Runs, person: &Person, inv: &Invocation) -> Update {
    let limit = int_arg(inv, &["limit", "n"]).unwrap_or(20).clamp(1, 500) as usize;
    // Read further back than asked: some runs may be hidden from this person.
    let filter = Filter {
        limit: (limit * 5).min(2500),
        ..Filter::default()
    };
    match runs.context().audit.list(&filter).await {
        Ok(list) => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .filter(|r| {
                    let target = authz::Target {
                        hub: r.hub.clone(),
                        cluster: r.cluster.clone(),
                    };
                    visible(runs, person, &r.person, target)
                })
                .take(limit)
                .map(|r| {
                    vec![
                        r.run.to_string(),
                        r.requested_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        r.person.clone(),
                        r.command.clone(),
                        r.state.replace('_', " "),
                    ]
                })
                .collect();
            Update::Info {
                title: format!("last {} runs", rows.len()),
                body: render::table(
                    &["run", "requested (UTC)", "who", "command", "state"],
                    &rows,
                ),
            }
        }
        Err(e) => Update::Refused {
            run: None,
            reason: "the audit log cannot be read".into(),
            detail: e.to_string(),
        },
    }
}

async fn story(runs: &Runs, person: &Person, inv: &Invocation) -> Update {
    let run = match run_arg(inv) {
        Ok(r) => r,
        Err(u) => return u,
    };
    match runs.context().audit.run(run).await {
        Ok(records) if records.is_empty() => Update::Refused {
            run: Some(run),
            reason: format!("there is no run {run}"),
            detail: "`runs` lists recent runs.".into(),
        },
        Ok(records) if !may_see_story(runs, person, &records) => Update::Refused {
            run: Some(run),
            reason: format!("run {run} is outside your roles"),
            detail:
                "You may see your own runs and runs on hubs your roles cover; `runs` lists them."
                    .into(),
        },
        Ok(records) => Update::Info {
            title: format!("run {run}"),
            body: story_text(&records),
        },
        Err(e) => Update::Refused {
            run: Some(run),
            reason: "the audit log cannot be read".into(),
            detail: e.to_string(),
        },
    }
}

fn may_see_story(runs: &Runs, person: &Person, records: &[Record]) -> bool {
    let Some(asked) = records.iter().find(|r| r.kind == EventKind::Requested) else {
        return false;
    };
    let field = |k: &str| {
        asked
            .data
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let target = authz::Target {
        hub: field("hub"),
        cluster: field("cluster"),
    };
    visible(runs, person, &field("person").unwrap_or_default(), target)
}

/// One line per record: the story `audit show` and `audit RUN` tell.
pub fn story_text(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        let what = match r.kind {
            EventKind::Requested => format!(
                "{} asked `{}`",
                r.actor,
                r.data.get("text").and_then(|v| v.as_str()).unwrap_or("")
            ),
            EventKind::Intent => format!(
                "step {} about to {} {}",
                s(&r.data, "step"),
                s(&r.data, "verb"),
                s(&r.data, "target")
            ),
            EventKind::Step => format!(
                "step {} {} {} → {} ({} ms{})",
                s(&r.data, "step"),
                s(&r.data, "action"),
                s(&r.data, "target"),
                s(&r.data, "outcome"),
                r.data.get("millis").and_then(|v| v.as_u64()).unwrap_or(0),
                if r.data
                    .get("dry_run")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false)
                {
                    ", dry run"
                } else {
                    ""
                }
            ),
            EventKind::AwaitingApproval => format!(
                "awaiting approval of: {}",
                r.data
                    .get("plan")
                    .and_then(|p| p.as_array())
                    .map(|a| a
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join("; "))
                    .unwrap_or_default()
            ),
            EventKind::Approved => format!("approved by {}", r.actor),
            EventKind::Rejected => format!("denied by {}", r.actor),
            EventKind::Denied => format!("refused: {}", s(&r.data, "reason")),
            EventKind::Finished
            | EventKind::Failed
            | EventKind::Cancelled
            | EventKind::Interrupted => {
                let mut line = format!(
                    "{} after {} ms",
                    s(&r.data, "outcome").if_empty(kind_name(&r.kind)),
                    r.data.get("millis").and_then(|v| v.as_u64()).unwrap_or(0)
                );
                if let Some(reason) = r.data.get("reason").and_then(|v| v.as_str()) {
                    line = format!("{}: {reason}", kind_name(&r.kind));
                }
                line
            }
            _ => kind_name(&r.kind),
        };
        let _ = writeln!(
            out,
            "#{:<5} {}  {}",
            r.seq,
            r.at.format("%Y-%m-%d %H:%M:%S%.3f"),
            what
        );
    }
    out
}

fn s<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

fn kind_name(k: &EventKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

trait IfEmpty {
    fn if_empty(self, other: String) -> String;
}

impl IfEmpty for &str {
    fn if_empty(self, other: String) -> String {
        if self.is_empty() {
            other
        } else {
            self.to_string()
        }
    }
}
