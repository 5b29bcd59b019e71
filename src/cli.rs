//! The command line: `demo · serve · run · check · audit · sim`.
//!
//! Each subcommand's arguments live with the module that owns the job; this
//! file only dispatches and maps errors to exit codes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio::sync::mpsc;

use crate::app::App;
use crate::audit::{AuditLog, Filter};
use crate::chat::console;
use crate::config::Config;
use crate::runs::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "opsbot",
    version,
    about = "Typed, audited ChatOps for Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The embedded default: a simulated fleet, SQLite audit log and a console prompt.
    Demo(crate::demo::DemoArgs),
    /// Run the HTTP server (production).
    Serve {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run one command from the shell, exactly as chat would; exit 0 on success,
    /// 1 on failure or refusal, 3 when it waits for approval.
    Run {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        #[arg(long = "as", value_name = "PERSON")]
        as_person: String,
        /// The command text, e.g. "hub status staging".
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Validate config, commands and playbooks together; non-zero on any error.
    Check {
        /// Without a config: ./commands and ./playbooks.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print the least-privilege ClusterRole covering every enabled playbook.
    Rbac {
        /// Without a config: ./playbooks and no impersonation.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Read and verify the audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Run the Kubernetes API simulator alone (for kubectl and experiments).
    Sim(crate::sim::cli::SimArgs),
    /// Discord application setup.
    Discord {
        #[command(subcommand)]
        action: DiscordAction,
    },
}

#[derive(Debug, Subcommand)]
enum DiscordAction {
    /// Create or update the `/ops` application command (idempotent).
    Register {
        /// Settings from this config; otherwise from the DISCORD_* environment variables.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Register in one guild (appears at once) instead of globally.
        #[arg(long, value_name = "ID")]
        guild: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
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
        run: i64,
    },
    /// Check the hash chain; names any edited, deleted or reordered record.
    Verify {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
    /// Every record as JSON lines.
    Export {
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, default_value_t = 0)]
        since_seq: i64,
    },
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSBOT_LOG")
        .unwrap_or_else(|_| "warn,opsbot=info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn load_config(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path, &env).map_err(|d| anyhow::anyhow!("{d}"))
}

async fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Serve { config } => serve(load_config(&config)?).await.map(|_| 0),
        Command::Run {
            config,
            as_person,
            text,
        } => {
            let app = App::build(load_config(&config)?, Limits::default()).await?;
            let (tx, mut rx) = mpsc::unbounded_channel();
            let ending = console::exec(
                &app.runs,
                &as_person,
                &text.join(" "),
                &tx,
                &mut rx,
                &mut |s| println!("{s}"),
            )
            .await;
            app.runs.shutdown(Duration::from_secs(5)).await;
            Ok(ending.exit_code())
        }
        Command::Check { config } => check(config),
        Command::Rbac { config } => rbac(config),
        Command::Audit { action } => audit(action).await,
        Command::Sim(args) => crate::sim::cli::run(args).await.map(|_| 0),
        Command::Discord {
            action: DiscordAction::Register { config, guild },
        } => {
            use crate::chat::discord::{register, DiscordSettings};
            let settings = match config {
                Some(path) => load_config(&path)?
                    .discord
                    .as_ref()
                    .map(DiscordSettings::from_config)
                    .transpose()?,
                None => DiscordSettings::from_env(&env)?,
            }
            .context("Discord is not configured: set DISCORD_PUBLIC_KEY and DISCORD_APPLICATION_ID (and DISCORD_BOT_TOKEN)")?;
            register::register(&settings, guild).await?;
            println!(
                "ok: /{} registered{}",
                register::COMMAND,
                guild.map(|g| format!(" in guild {g}")).unwrap_or_default()
            );
            Ok(0)
        }
    }
}

fn check(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let result = match &config {
        Some(path) => match Config::load(path, &env) {
            Ok(cfg) => {
                crate::check::load_all(&cfg).map(|(g, p)| (g.commands().len(), p.iter().count()))
            }
            Err(d) => Err(d),
        },
        None => crate::check::load_dirs("commands".as_ref(), "playbooks".as_ref())
            .map(|(g, p)| (g.commands().len(), p.iter().count())),
    };
    match result {
        Ok((commands, playbooks)) => {
            println!("ok: {commands} commands, {playbooks} playbooks");
            Ok(0)
        }
        Err(problems) => {
            eprintln!("{problems}");
            eprintln!("{} problem(s) found", problems.0.len());
            Ok(1)
        }
    }
}

fn rbac(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let (playbooks, users) = match &config {
        Some(path) => {
            let cfg = load_config(path)?;
            let (_, pbs) = crate::check::load_all(&cfg).map_err(|d| anyhow::anyhow!("{d}"))?;
            let users: Vec<String> = cfg
                .people
                .iter()
                .filter_map(|p| p.kube_user.clone())
                .collect();
            (pbs, users)
        }
        None => (
            crate::playbook::Playbooks::load_dir("playbooks".as_ref())
                .map_err(|d| anyhow::anyhow!("{d}"))?,
            vec![],
        ),
    };
    let rules = crate::rbac::rules(&crate::rbac::permissions(&playbooks), &users);
    print!("{}", crate::rbac::cluster_role_yaml("opsbot", &rules));
    Ok(0)
}

async fn audit(action: AuditAction) -> anyhow::Result<u8> {
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
        AuditAction::Verify { config } => {
            let log = AuditLog::open(&open(&config)?).await?;
            let report = log.verify().await?;
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
        AuditAction::Export { config, since_seq } => {
            let log = AuditLog::open(&open(&config)?).await?;
            for r in log.export(since_seq).await? {
                println!("{}", serde_json::to_string(&r)?);
            }
            Ok(0)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let app = App::build(config, Limits::default()).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "opsbot serving");
    let sockets = tokio_util::sync::CancellationToken::new();
    crate::server::start_sockets(&app, sockets.clone());
    crate::server::serve(
        listener,
        crate::server::router(app.clone())?,
        shutdown_signal(),
    )
    .await?;
    sockets.cancel();
    tracing::info!("HTTP stopped; letting in-flight runs finish (up to 30s)");
    app.runs.shutdown(Duration::from_secs(30)).await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
