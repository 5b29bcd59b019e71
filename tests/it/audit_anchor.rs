//! The external anchor through the binary: a tail cut off together with a
//! rewritten `audit_head` row passes plain `audit verify` (the chain is
//! consistent) but not `audit verify --anchor`, and `serve` writes anchors on
//! the `audit.anchor` schedule.

use crate::support::binary::{opsbot, output_text as text};
use std::path::Path;

use crate::support::server::Server;

/// A log with two runs, and a config pointing at it.
fn two_runs(dir: &Path) -> String {
    for _ in 0..2 {
        let ok = opsbot(
            dir,
            &["demo", "--exec", "hub status staging", "--as", "bob"],
        );
        assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    }
    let cfg = dir.join("opsbot.yaml");
    std::fs::write(
        &cfg,
        format!(
            "audit: {{ url: \"sqlite://{}\" }}\n",
            dir.join("audit.db").display()
        ),
    )
    .unwrap();
    cfg.to_str().unwrap().to_string()
}

/// What an attacker with the database does: delete the last run's records
/// and rewrite the head row to the new last record, so the chain is whole.
fn truncate_last_run_and_rewrite_head(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let last_run: i64 = conn
        .query_row("SELECT MAX(run) FROM audit_events", [], |r| r.get(0))
        .unwrap();
    let deleted = conn
        .execute("DELETE FROM audit_events WHERE run = ?1", [last_run])
        .unwrap();
    assert!(deleted > 0);
    conn.execute(
        "UPDATE audit_head SET seq = (SELECT MAX(seq) FROM audit_events), \
         hash = (SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1) WHERE id = 1",
        [],
    )
    .unwrap();
}

#[test]
fn truncated_tail_with_rewritten_head_passes_verify_but_fails_against_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = two_runs(dir.path());
    let anchors = dir.path().join("anchors.txt");
    let anchor = opsbot(
        dir.path(),
        &[
            "audit",
            "anchor",
            "--config",
            &cfg,
            "--to",
            anchors.to_str().unwrap(),
        ],
    );
    assert_eq!(anchor.status.code(), Some(0), "{}", text(&anchor));
    let line = String::from_utf8_lossy(&anchor.stdout).trim().to_string();
    assert!(line.starts_with("opsbot-audit-anchor seq="), "{line}");
    assert_eq!(std::fs::read_to_string(&anchors).unwrap().trim(), line);

    let file_arg = format!("@{}", anchors.display());
    let intact = opsbot(
        dir.path(),
        &["audit", "verify", "--config", &cfg, "--anchor", &file_arg],
    );
    assert_eq!(
        intact.status.code(),
        Some(0),
        "untampered: {}",
        text(&intact)
    );

    truncate_last_run_and_rewrite_head(&dir.path().join("audit.db"));
    let plain = opsbot(dir.path(), &["audit", "verify", "--config", &cfg]);
    assert_eq!(
        plain.status.code(),
        Some(0),
        "the chain alone cannot see this: {}",
        text(&plain)
    );
    for arg in [file_arg.as_str(), line.as_str()] {
        let caught = opsbot(
            dir.path(),
            &["audit", "verify", "--config", &cfg, "--anchor", arg],
        );
        assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
        let t = text(&caught);
        assert!(
            t.contains("is not in the log") && t.contains("truncated"),
            "{t}"
        );
    }
}

#[test]
fn a_malformed_anchor_is_refused_with_the_shape_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = two_runs(dir.path());
    let out = opsbot(
        dir.path(),
        &["audit", "verify", "--config", &cfg, "--anchor", "seq=3"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("opsbot audit anchor"), "{}", text(&out));
}

#[test]
fn serve_appends_the_chain_head_to_the_anchor_file_on_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    two_runs(dir.path());
    let root = env!("CARGO_MANIFEST_DIR");
    let anchors = dir.path().join("anchors.txt");
    let cfg = dir.path().join("serve.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\n\
             audit: {{ url: \"sqlite://{db}\", anchor: {{ every: 100ms, to: \"{to}\" }} }}\n\
             commands: {root}/commands\nplaybooks: {root}/playbooks\n",
            db = dir.path().join("audit.db").display(),
            to = anchors.display(),
        ),
    )
    .unwrap();
    let mut server = Server::start(&cfg, &[]);
    server.wait_for_log("audit anchor written");
    let written = std::fs::read_to_string(&anchors).unwrap();
    let cfg = cfg.to_str().unwrap();
    let file_arg = format!("@{}", anchors.display());
    drop(server);
    assert!(written.starts_with("opsbot-audit-anchor"), "{written}");
    let ok = opsbot(
        dir.path(),
        &["audit", "verify", "--config", cfg, "--anchor", &file_arg],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
}
