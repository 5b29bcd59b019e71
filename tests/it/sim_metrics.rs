//! The simulator's Prometheus endpoints: each hub's `/hub/metrics` agrees
//! with its REST API and pods and wants the hub's token, and the
//! kube-state-metrics endpoint reports the cluster's nodes and requests.

use std::collections::BTreeMap;

use crate::support::fleet::start;
use opsbot_sim::HubEndpoint;
use serde_json::Value;

/// `name{labels} value` lines into (name{labels} → value).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let r = req.send().await.unwrap();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), ctype, r.text().await.unwrap())
}

#[tokio::test]
async fn a_hubs_metrics_count_the_servers_and_users_its_api_reports_and_need_its_token() {
    let (fleet, _set, _pbs) = start().await;
    let e: HubEndpoint = fleet
        .hub_endpoints()
        .into_iter()
        .find(|e| e.namespace == "staging")
        .unwrap();
    let (code, _, _) = get(&e.metrics_url, None).await;
    assert_eq!(
        code, 403,
        "metrics need the hub's token, as authenticate_prometheus has it"
    );

    let users: Vec<Value> = reqwest::Client::new()
        .get(format!("{}/users", e.url))
        .header("Authorization", format!("token {}", e.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ready = users.iter().filter(|u| u["server"].is_string()).count();
    let day_ago = chrono::Utc::now() - chrono::Duration::days(1);
    let active_24h = users
        .iter()
        .filter(|u| {
            u["last_activity"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t > day_ago)
        })
        .count();
    assert!(
        ready > 0 && active_24h > 0,
        "the seed has active users: {users:#?}"
    );

    let (code, ctype, text) = get(&e.metrics_url, Some(&e.token)).await;
    assert_eq!(code, 200, "{text}");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let s = samples(&text);
    assert_eq!(s["jupyterhub_running_servers"], ready as f64, "{text}");
    assert_eq!(s["jupyterhub_total_users"], users.len() as f64, "{text}");
    assert_eq!(
        s["jupyterhub_active_users{period=\"24h\"}"], active_24h as f64,
        "{text}"
    );
    assert!(s["jupyterhub_active_users{period=\"30d\"}"] >= active_24h as f64);
    assert!(
        s.contains_key(
            "jupyterhub_server_spawn_duration_seconds_bucket{status=\"success\",le=\"+Inf\"}"
        ),
        "{text}"
    );
    // The users request above was timed, under its route's handler.
    assert!(
        s.keys().any(|k| k.starts_with("jupyterhub_request_duration_seconds_count{code=\"200\",handler=\"/hub/api/users\",method=\"GET\"}")),
        "{text}"
    );
}

#[tokio::test]
async fn kube_state_metrics_report_each_nodes_allocatable_and_the_pods_requests() {
    let (fleet, _set, _pbs) = start().await;
    let e = fleet
        .hub_endpoints()
        .into_iter()
        .find(|e| e.cluster == "aws-us")
        .unwrap();
    let (code, _, text) = get(&e.kube_state_metrics_url, None).await;
    assert_eq!(code, 200, "{text}");
    let s = samples(&text);
    let nodes = fleet
        .cluster("aws-us")
        .unwrap()
        .store()
        .list("nodes", None)
        .0;
    assert!(!nodes.is_empty());
    for n in &nodes {
        let name = n["metadata"]["name"].as_str().unwrap();
        assert!(
            s.contains_key(&format!(
                "kube_node_status_allocatable{{node=\"{name}\",resource=\"cpu\",unit=\"core\"}}"
            )),
            "{name} has no allocatable cpu in:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("kube_node_labels{node=") && l.contains("label_")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("kube_pod_container_resource_requests{")
                && l.contains("namespace=\"staging\"")),
        "{text}"
    );
}
