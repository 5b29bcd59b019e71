//! `opsbot sim`: run a fleet from a seed directory until Ctrl-C/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Fleet, Seed};

/// Arguments of `opsbot sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Seed directory (`<dir>/<cluster>/*.yaml`, see sim/SEED-FORMAT.md).
    #[arg(long, default_value = "examples/fleet")]
    pub seed: PathBuf,
    /// Address of the first cluster; cluster i listens on port+i (port 0: ephemeral ports).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Where to write a kubeconfig with one context per cluster.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

/// Run the simulator until interrupted.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let seed = Seed::from_dir(&args.seed)?;
    let fleet = Fleet::start(seed, args.listen).await?;
    if let Some(path) = &args.kubeconfig {
        fleet.write_kubeconfig(path)?;
        println!("kubeconfig written to {}", path.display());
    }
    for name in fleet.cluster_names() {
        println!("{name}  {}", fleet.server_url(&name).unwrap_or_default());
    }
    // The seed's own test tokens, not secrets of anything real.
    for hub in fleet.hub_endpoints() {
        println!(
            "hub {}/{}  {}  (token {})",
            hub.cluster, hub.namespace, hub.url, hub.token
        );
    }
    wait_for_signal().await;
    fleet.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
