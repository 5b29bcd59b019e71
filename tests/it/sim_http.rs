//! The simulator's raw HTTP surface: discovery documents, server-side Tables,
//! the fault control endpoint, and the written kubeconfig.

use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use opsbot_sim::{Fleet, Seed};
use serde_json::{json, Value};

async fn fleet() -> Fleet {
    let seed = Seed::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/small"))
        .expect("test seed parses");
    Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("fleet starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(opsbot_sim::tls::CA_PEM.as_bytes()).unwrap(),
        )
        .build()
        .unwrap()
}

async fn get(f: &Fleet, path: &str, accept: &str) -> (u16, Value) {
    let url = format!("{}{path}", f.server_url("alpha").unwrap());
    let r = http()
        .get(url)
        .bearer_auth("opsbot-sim-admin")
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn discovery_lists_subresources_short_names_and_groups() {
    let f = fleet().await;
    let (code, v1) = get(&f, "/api/v1", "application/json").await;
    assert_eq!(code, 200);
    let names: Vec<&str> = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for want in [
        "pods",
        "pods/log",
        "pods/eviction",
        "nodes",
        "events",
        "namespaces",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let pods = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods")
        .unwrap();
    assert_eq!(pods["shortNames"], json!(["po"]));
    let (_, apps) = get(&f, "/apis/apps/v1", "application/json").await;
    assert!(apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "deployments/scale" && r["kind"] == "Scale"));
    let (_, groups) = get(&f, "/apis", "application/json").await;
    assert!(groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "gateway.dask.org"));
    let (code, _) = get(&f, "/openapi/v2", "application/json").await;
    assert_eq!(code, 404);
    let (code, version) = get(&f, "/version", "application/json").await;
    assert_eq!(
        (code, version["gitVersion"].as_str()),
        (200, Some("v1.31.2"))
    );
}

#[tokio::test]
async fn table_accept_header_gets_kubectl_columns() {
    let f = fleet().await;
    let (code, t) = get(
        &f,
        "/api/v1/namespaces/staging/pods",
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    .await;
    assert_eq!((code, t["kind"].as_str()), (200, Some("Table")));
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(&cols[..5], &["Name", "Ready", "Status", "Restarts", "Age"]);
    let frank = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cells"][0] == "jupyter-frank")
        .unwrap();
    assert_eq!(frank["cells"][1], "1/2");
    assert_eq!(frank["cells"][2], "CrashLoopBackOff");
    assert_eq!(frank["cells"][6], "node-user-1");
    assert_eq!(frank["object"]["kind"], "PartialObjectMetadata");
}

#[tokio::test]
async fn fault_control_endpoint_adds_and_clears_rules() {
    let f = fleet().await;
    let base = f.server_url("alpha").unwrap();
    let r = http()
        .post(format!("{base}/sim/faults"))
        .bearer_auth("opsbot-sim-admin")
        .json(&json!({"resources": ["pods"], "status": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (code, body) = get(&f, "/api/v1/pods", "application/json").await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (500, Some("InternalError"))
    );
    let r = http()
        .post(format!("{base}/sim/faults"))
        .bearer_auth("readonly-token")
        .json(&json!({"status": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http()
        .delete(format!("{base}/sim/faults"))
        .bearer_auth("opsbot-sim-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(get(&f, "/api/v1/pods", "application/json").await.0, 200);
}

#[tokio::test]
async fn written_kubeconfig_works_with_kube_config_loading() {
    let f = fleet().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    f.write_kubeconfig(&path).unwrap();
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    assert_eq!(kc.current_context.as_deref(), Some("alpha"));
    let opts = kube::config::KubeConfigOptions {
        context: Some("beta".into()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    assert_eq!(
        nodes.list(&ListParams::default()).await.unwrap().items[0]
            .metadata
            .name
            .as_deref(),
        Some("beta-node-1")
    );
    let pods: Api<Pod> = Api::all(client);
    assert!(pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
}
