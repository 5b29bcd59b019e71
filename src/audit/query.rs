//! The SQL both backends share for the `runs` index: `list` with its filter
//! and the runs still open after a crash.

use super::{chain, Filter};

/// The state words of runs that are over (see [`crate::audit::EventKind::is_terminal`]).
pub(super) const TERMINAL_STATES: [&str; 7] = [
    "denied",
    "rejected",
    "expired",
    "finished",
    "failed",
    "cancelled",
    "interrupted",
];

/// The `runs` index columns, in the order both backends select them.
pub(super) const SUMMARY_COLUMNS: &str =
    "run, requested_at, person, text, hub, cluster, state, updated_at";

/// The `list` query for `f`, with `placeholder(n)` spelling the n-th (1-based)
/// parameter for the backend. Returns the SQL and its text parameters.
pub(super) fn list_sql(f: &Filter, placeholder: fn(usize) -> String) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let mut add = |value: &str, clause: &dyn Fn(&str) -> String, params: &mut Vec<String>| {
        params.push(value.to_owned());
        clauses.push(clause(&placeholder(params.len())));
    };
    if let Some(v) = &f.person {
        add(v, &|p| format!("person = {p}"), &mut params);
    }
    if let Some(v) = &f.command {
        add(
            v,
            &|p| {
                format!(
                    "(command = {p} OR text = {p} OR substr(text, 1, length({p}) + 1) = {p} || ' ')"
                )
            },
            &mut params,
        );
    }
    if let Some(v) = &f.hub {
        add(v, &|p| format!("hub = {p}"), &mut params);
    }
    if let Some(v) = &f.cluster {
        add(v, &|p| format!("cluster = {p}"), &mut params);
    }
    if let Some(v) = &f.outcome {
        add(v, &|p| format!("state = {p}"), &mut params);
    }
    if let Some(since) = &f.since {
        let since = chain::format_at(since);
        add(&since, &|p| format!("requested_at >= {p}"), &mut params);
    }
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM audit_runs");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY run DESC");
    if f.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", f.limit));
    }
    (sql, params)
}

/// The `open_runs` query: runs whose last lifecycle state is not terminal.
pub(super) fn open_runs_sql() -> String {
    let terminal: Vec<String> = TERMINAL_STATES.iter().map(|s| format!("'{s}'")).collect();
    format!(
        "SELECT run FROM audit_runs WHERE state NOT IN ({}) ORDER BY run",
        terminal.join(", ")
    )
}

/// The `stale_runs` query: open runs with no owner, or whose owner (not
/// `$me`) last beat before `$cutoff`. `ph(n)` writes placeholder `n`
/// (1: me, 2: cutoff).
pub(super) fn stale_runs_sql(ph: impl Fn(usize) -> String) -> String {
    let terminal: Vec<String> = TERMINAL_STATES.iter().map(|s| format!("'{s}'")).collect();
    format!(
        "SELECT r.run FROM audit_runs r LEFT JOIN audit_owners o ON o.run = r.run
         WHERE r.state NOT IN ({}) AND (o.run IS NULL OR (o.owner <> {} AND o.beat_ms < {}))
         ORDER BY r.run",
        terminal.join(", "),
        ph(1),
        ph(2)
    )
}

/// The owners table both backends create (same SQL in SQLite and PostgreSQL).
pub(super) const OWNERS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_owners (
    run BIGINT PRIMARY KEY,
    owner TEXT NOT NULL,
    beat_ms BIGINT NOT NULL,
    cancel_by TEXT
);
CREATE INDEX IF NOT EXISTS audit_owners_by_owner ON audit_owners (owner);
CREATE TABLE IF NOT EXISTS audit_locks (
    key TEXT PRIMARY KEY,
    run BIGINT NOT NULL
);
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::EventKind;

    #[test]
    fn terminal_kinds_are_exactly_the_ends_of_a_run() {
        let terminal: Vec<&str> = EventKind::ALL
            .iter()
            .filter(|k| k.is_terminal())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(terminal, TERMINAL_STATES.to_vec());
        assert!(!EventKind::Note.is_lifecycle());
        assert!(EventKind::Step.is_lifecycle());
    }
}
