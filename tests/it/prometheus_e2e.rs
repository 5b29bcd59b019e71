//! `hub load` and `pool usage` against a real Prometheus (Debian's
//! `prometheus`) scraping the simulator's JupyterHub and kube-state-metrics
//! series every second: `opsbot sim` as its own process, `opsbot run
//! --config` with the cluster's `prometheus:` set. The test waits until
//! Prometheus has the series, then asks.

use crate::support::binary::{hub_seed, opsbot_run, output_text, SimProcess};
use crate::support::prometheus::{Job, Prometheus};

const SIM_YAML: &str = "jupyterhub:
  - namespace: lab
    token: lab-hub-token
    users: [ana, ben, cy, dee]
    last_activity: { ana: -1h, ben: -3h, cy: -3d, dee: -40d }
";

/// Two node pools of 4 cores and 16Gi each; ana's server (1 core, 4Gi) runs
/// in the user pool, nothing in the core pool.
const NODES_AND_SERVER: &str = r#"
apiVersion: v1
kind: Node
metadata: { name: core-1, labels: { cloud.google.com/gke-nodepool: core } }
status:
  allocatable: { cpu: "4", memory: 16Gi, pods: "110" }
  conditions: [{ type: Ready, status: "True" }]
---
apiVersion: v1
kind: Node
metadata: { name: user-1, labels: { cloud.google.com/gke-nodepool: user } }
status:
  allocatable: { cpu: "4", memory: 16Gi, pods: "110" }
  conditions: [{ type: Ready, status: "True" }]
---
apiVersion: v1
kind: Pod
metadata:
  name: jupyter-ana
  namespace: lab
  labels: { component: singleuser-server, hub.jupyter.org/username: ana }
  annotations: { hub.jupyter.org/username: ana }
spec:
  nodeName: user-1
  containers:
    - name: notebook
      image: quay.io/jupyter/base-notebook:2024-12-02
      resources: { requests: { cpu: "1", memory: 4Gi } }
status:
  phase: Running
  containerStatuses: [{ name: notebook, ready: true, restartCount: 0, state: { running: {} } }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_load_shows_the_active_users_and_pool_usage_the_requests_prometheus_scraped_from_the_simulator(
) {
    let lab = hub_seed("lab");
    let mut sim = SimProcess::start(&[
        ("edu/sim.yaml", SIM_YAML),
        ("edu/00-lab.yaml", &lab),
        ("edu/10-nodes.yaml", NODES_AND_SERVER),
    ]);
    let api = sim.hub_api_url("edu", "lab");
    let target = api
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .expect("the hub API URL is http://HOST:PORT/…")
        .to_string();
    let prometheus = Prometheus::start(&[
        Job {
            name: "jupyterhub",
            target: &target,
            path: "/edu/lab/hub/metrics",
            bearer: Some("lab-hub-token"),
            labels: &[("namespace", "lab")],
        },
        Job {
            name: "kube-state-metrics",
            target: &target,
            path: "/edu/kube-state-metrics/metrics",
            bearer: None,
            labels: &[],
        },
    ])
    .await;
    prometheus
        .wait_for_series(r#"jupyterhub_active_users{namespace="lab"}"#)
        .await;
    prometheus
        .wait_for_series(r#"kube_pod_container_resource_requests{pod="jupyter-ana"}"#)
        .await;

    let token = sim.kubeconfig().with_file_name("prometheus.token");
    std::fs::write(&token, "unused-by-this-prometheus").unwrap();
    let config = sim.write_config(&format!(
        r#"
clusters:
  - {{ name: edu, kubeconfig: "{kc}", context: edu, prometheus: {{ url: "{prom}", token: "${{file:{token}}}", timeout: 10s }} }}
hubs:
  - {{ name: lab, cluster: edu, namespace: lab }}
people:
  - {{ id: sam, roles: [support] }}
roles:
  support: {{ run: ["hub load", "pool usage"] }}
"#,
        kc = sim.kubeconfig().display(),
        prom = prometheus.base,
        token = token.display(),
    ));
    let ask = |text: &'static str| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || opsbot_run(&config, "sam", text))
    };
    let out = ask("hub load lab").await.unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Load of lab"), "{text}");
    // ana and ben were active within a day; cy within a week; dee a month
    // and more ago.
    assert!(text.contains("active users (24h): 2"), "{text}");
    assert!(text.contains("active users (7d): 3"), "{text}");
    assert!(text.contains("active users (30d): 3"), "{text}");
    assert!(text.contains("running servers: 1"), "{text}");
    assert!(!text.contains("no metrics"), "{text}");

    let out = ask("pool usage edu").await.unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Requests / allocatable per node pool on edu"),
        "{text}"
    );
    // 1 of 4 cores and 4Gi of 16Gi requested in the user pool.
    assert!(text.contains("- user: cpu 25%, memory 25%"), "{text}");
    // Nothing runs in the core pool: it shows, at 0%.
    assert!(text.contains("- core: cpu 0%, memory 0%"), "{text}");
}
