//! `opsbot sim`: the simulated fleet alone, for kubectl and experiments.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Fleet, Seed};

/// Arguments of `opsbot sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Seed directory (one subdirectory of manifests per cluster).
    #[arg(long, value_name = "DIR", default_value = "examples/fleet")]
    pub seed: PathBuf,
    /// Address of the first cluster; the next ones take the following ports
    /// (port 0: ephemeral ports).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Where to write a kubeconfig with one context per cluster.
    #[arg(long, value_name = "FILE", default_value = "sim.kubeconfig")]
    pub kubeconfig: PathBuf,
}

/// Run the simulator until Ctrl-C or SIGTERM.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let seed = Seed::from_dir(&args.seed)?;
    let fleet = Fleet::start(seed, args.listen).await?;
    fleet.write_kubeconfig(&args.kubeconfig)?;
    for name in fleet.cluster_names() {
        println!("{name:<12} {}", fleet.server_url(&name).unwrap_or_default());
    }
    println!("kubeconfig: {} (try: kubectl --kubeconfig {} get pods -A)", args.kubeconfig.display(), args.kubeconfig.display());
    crate::cli::shutdown_signal().await;
    fleet.shutdown().await;
    Ok(())
}
