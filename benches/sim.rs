//! GET and LIST latency of the simulator through the real `kube` client,
//! printed as p50/p99 in µs. `cargo bench --bench sim` runs the full sample;
//! under `cargo test` (no `--bench` argument) it runs a short smoke pass.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use opsbot_sim::{Fleet, Seed};

fn percentile(sorted: &[Duration], p: f64) -> u128 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_micros()
}

async fn measure<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..n.min(20) {
        f().await;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn main() -> anyhow::Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 3000 } else { 50 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let seed =
            Seed::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/small"))?;
        let fleet = Fleet::start(seed, "127.0.0.1:0".parse()?).await?;
        let pods: Api<Pod> = Api::namespaced(fleet.client("alpha").await?, "staging");
        let get = measure(n, || {
            let pods = pods.clone();
            async move {
                pods.get("jupyter-frank").await.expect("GET works");
            }
        })
        .await;
        let list = measure(n, || {
            let pods = pods.clone();
            async move {
                pods.list(&ListParams::default()).await.expect("LIST works");
            }
        })
        .await;
        println!(
            "sim GET  pod  via kube: p50 {} µs  p99 {} µs  (n={n})",
            percentile(&get, 0.5),
            percentile(&get, 0.99)
        );
        println!(
            "sim LIST pods via kube: p50 {} µs  p99 {} µs  (n={n}, {} items)",
            percentile(&list, 0.5),
            percentile(&list, 0.99),
            pods.list(&ListParams::default()).await?.items.len()
        );
        fleet.shutdown().await;
        anyhow::Ok(())
    })
}
