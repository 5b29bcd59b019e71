//! (placeholder: filled by the simulator work)

/// The `opsbot sim` subcommand.
pub mod cli {
    /// Arguments of `opsbot sim`.
    #[derive(Debug, clap::Args)]
    pub struct SimArgs {}

    /// Run the simulator until interrupted.
    pub async fn run(_args: SimArgs) -> anyhow::Result<()> {
        anyhow::bail!("not built yet")
    }
}
