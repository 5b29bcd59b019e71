//! `opsbot audit list|show|verify|anchor|export`: read and verify the audit log.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use anyhow::Context as _;

use crate::audit::{anchor, Anchor, AuditLog, Filter};

use super::load_config;

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Recent runs, newest first.
    List {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        command: Option<String>,
        #[arg(long)]
        hub: Option<String>,
        #[arg(long)]
        cluster: Option<String>,
        /// e.g. finished, failed, denied, interrupted, awaiting_approval
        #[arg(long)]
        outcome: Option<String>,
        /// How far back, e.g. 2h, 7d.
        #[arg(long, value_parser = humantime::parse_duration)]
        since: Option<Duration>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One run's whole story.
    Show {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        run: crate::chat::RunId,
    },
    /// Check the hash chain; names any edited, deleted or reordered record.
    Verify {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// A line `opsbot audit anchor` printed, or `@FILE` of such lines:
        /// the log must still hold each (catches a truncated tail).
        #[arg(long, value_name = "LINE|@FILE")]
        anchor: Vec<String>,
    },
    /// Print the chain head as one line, to keep outside the database.
    Anchor {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Also append the line to this file.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
    },
    /// Every record as JSON lines.
    Export {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, default_value_t = 0)]
        since_seq: i64,
    },
}

pub async fn run(action: AuditAction) -> anyhow::Result<u8> {
    let open = |path: &PathBuf| -> anyhow::Result<String> { Ok(load_config(path)?.audit_url) };
    match action {
        AuditAction::List {
            config,
            person,
            command,
            hub,
            cluster,
            outcome,
            since,
            limit,
        } => {
            let log = AuditLog::open(&open(&config)?).await?;
            let since = since
                .map(|d| chrono::Utc::now() - chrono::Duration::from_std(d).unwrap_or_default());
            let filter = Filter {
                person,
                command,
                hub,
                cluster,
                outcome,
                since,
                limit,
            };
            let rows: Vec<Vec<String>> = log
                .list(&filter)
                .await?
                .into_iter()
                .map(|r| {
                    vec![
                        r.run.to_string(),
                        r.requested_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        r.person,
                        r.command,
                        r.hub.unwrap_or_default(),
                        r.state,
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::chat::render::table(
                    &["run", "requested (UTC)", "who", "command", "hub", "state"],
                    &rows
                )
            );
            Ok(0)
        }
        AuditAction::Show { config, run } => {
            let log = AuditLog::open(&open(&config)?).await?;
            let records = log.run(run).await?;
            if records.is_empty() {
                eprintln!("no run {run} in the audit log");
                return Ok(1);
            }
            print!("{}", crate::runs::story_text(&records));
            Ok(0)
        }
        AuditAction::Verify { config, anchor } => {
            let anchors = read_anchors(&anchor)?;
            let log = AuditLog::open(&open(&config)?).await?;
            let report = log.verify_anchored(anchors).await?;
            if report.problems.is_empty() {
                println!("ok: {} records, hash chain intact", report.records);
                Ok(0)
            } else {
                for p in &report.problems {
                    println!("{p}");
                }
                println!(
                    "{} problem(s) in {} records",
                    report.problems.len(),
                    report.records
                );
                Ok(1)
            }
        }
        AuditAction::Anchor { config, to } => {
            let log = AuditLog::open(&open(&config)?).await?;
            let anchor = crate::audit::anchor::take(&log).await?;
            if let Some(to) = &to {
                crate::audit::anchor::append_to(to, &anchor)?;
            }
            println!("{anchor}");
            Ok(0)
        }
        AuditAction::Export { config, since_seq } => {
            let log = AuditLog::open(&open(&config)?).await?;
            for r in log.export(since_seq).await? {
                println!("{}", serde_json::to_string(&r)?);
            }
            Ok(0)
        }
    }
}

/// `--anchor` values: a line, or `@FILE` holding one anchor per line.
fn read_anchors(args: &[String]) -> anyhow::Result<Vec<Anchor>> {
    let mut out = Vec::new();
    for arg in args {
        match arg.strip_prefix('@') {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the anchor file {path}"))?;
                let anchors = anchor::parse_lines(&text).with_context(|| format!("in {path}"))?;
                if anchors.is_empty() {
                    anyhow::bail!("{path} holds no anchors; write them with `opsbot audit anchor --to {path}`");
                }
                out.extend(anchors);
            }
            None => out.push(arg.parse()?),
        }
    }
    Ok(out)
}
