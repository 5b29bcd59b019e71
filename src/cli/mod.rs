//! The command line: `demo · serve · run · check · audit · sim`.
//!
//! Each subcommand's arguments live with the module that owns the job; this
//! file only dispatches and maps errors to exit codes.

pub mod audit;
pub mod check;
pub mod demo;
pub mod discord;
pub mod rbac;
pub mod run;
pub mod serve;
pub mod shutdown;

pub use shutdown::shutdown_signal;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

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
    Demo(demo::DemoArgs),
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
        action: audit::AuditAction,
    },
    /// Run the Kubernetes API simulator alone (for kubectl and experiments).
    Sim(opsbot_sim::cli::SimArgs),
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
    let filter = log_filter(|k| std::env::var(k).ok());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}

/// The log level: `OPSBOT_LOG` when set, else the `RUST_LOG` every Rust
/// operator already knows (the README promises it), else opsbot's default.
fn log_filter(var: impl Fn(&str) -> Option<String>) -> tracing_subscriber::EnvFilter {
    ["OPSBOT_LOG", "RUST_LOG"]
        .iter()
        .filter_map(|k| var(k))
        .find_map(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| "warn,opsbot=info".into())
}

pub(crate) fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

pub(crate) fn load_config(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path, &env).map_err(|d| anyhow::anyhow!("{d}"))
}

async fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Demo(args) => demo::run(args).await,
        Command::Serve { config } => serve::run(load_config(&config)?).await.map(|_| 0),
        Command::Run {
            config,
            as_person,
            text,
        } => run::run(load_config(&config)?, &as_person, &text.join(" ")).await,
        Command::Check { config } => check::run(config),
        Command::Rbac { config } => rbac::run(config),
        Command::Audit { action } => audit::run(action).await,
        Command::Sim(args) => opsbot_sim::cli::run(args).await.map(|_| 0),
        Command::Discord {
            action: DiscordAction::Register { config, guild },
        } => discord::register(config, guild).await,
    }
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    fn filter(vars: &[(&str, &str)]) -> String {
        log_filter(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .to_string()
    }

    #[test]
    fn rust_log_sets_the_level_and_opsbot_log_wins_over_it() {
        assert_eq!(filter(&[("RUST_LOG", "debug")]), "debug");
        assert_eq!(
            filter(&[("RUST_LOG", "debug"), ("OPSBOT_LOG", "trace")]),
            "trace"
        );
        assert_eq!(filter(&[]), "opsbot=info,warn");
    }
}
