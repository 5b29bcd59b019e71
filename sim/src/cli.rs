//! `opsbot sim`: run a fleet from a seed directory, or a generated one
//! (`--synthetic`), until Ctrl-C/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::synthetic::Shape;
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
    /// Generate the fleet instead of reading `--seed`: CLUSTERSxHUBSxUSERS
    /// (clusters, hubs per cluster, user servers per hub), e.g. 10x10x100.
    #[arg(long, value_name = "CLUSTERSxHUBSxUSERS", conflicts_with = "seed")]
    pub synthetic: Option<Shape>,
    /// With `--synthetic` and `--kubeconfig`: also write an opsbot.yaml naming
    /// every cluster and hub (SQLite audit beside it, person `sre`).
    #[arg(long, value_name = "PATH", requires_all = ["synthetic", "kubeconfig"])]
    pub write_config: Option<PathBuf>,
}

/// Run the simulator until interrupted.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let seed = match &args.synthetic {
        Some(shape) => shape.seed(),
        None => Seed::from_dir(&args.seed)?,
    };
    let fleet = Fleet::start(seed, args.listen).await?;
    if let Some(shape) = &args.synthetic {
        println!(
            "synthetic fleet {shape}: {} user servers, loaded in {:.2?}",
            shape.clusters * shape.hubs * shape.users,
            started.elapsed()
        );
    }
    // The config first: the kubeconfig is the marker that everything is ready.
    if let (Some(path), Some(shape), Some(kc)) =
        (&args.write_config, &args.synthetic, &args.kubeconfig)
    {
        let kc = std::path::absolute(kc)?;
        let audit = std::path::absolute(path)?.with_file_name("opsbot-audit.db");
        std::fs::write(path, super::synthetic::opsbot_config(shape, &kc, &audit))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        println!("opsbot config written to {}", path.display());
    }
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
