//! The simulator through the real `kube` client: every verb, selectors,
//! watch, subresources, conflicts, RBAC, impersonation and injected faults.

use std::path::Path;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{
    Api, DeleteParams, EvictParams, ListParams, LogParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::runtime::wait::{await_condition, conditions};
use opsbot_sim::{FaultRule, Fleet, Seed};
use serde_json::json;

async fn fleet() -> Fleet {
    let seed = Seed::from_dir(Path::new("tests/seeds/mini")).expect("test seed loads");
    Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("fleet starts")
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(r) => *r,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn get_and_list_with_label_and_field_selectors() {
    let fleet = fleet().await;
    let client = fleet.client("c1").await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "staging");
    let users = pods
        .list(&ListParams::default().labels("component=singleuser-server"))
        .await
        .unwrap();
    let mut names: Vec<String> = users
        .items
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["jupyter-alice", "jupyter-bob-2ejones"]);
    let on_core = pods
        .list(&ListParams::default().fields("spec.nodeName=core-1"))
        .await
        .unwrap();
    assert!(on_core
        .items
        .iter()
        .all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("core-1")));
    let not_hub = pods
        .list(&ListParams::default().labels("component notin (hub,user-placeholder),!nonexistent"))
        .await
        .unwrap();
    assert_eq!(not_hub.items.len(), 2);
    let alice = pods.get("jupyter-alice").await.unwrap();
    assert_eq!(
        alice.metadata.annotations.unwrap()["hub.jupyter.org/username"],
        "alice"
    );
    let nodes: Api<Node> = Api::all(client);
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test]
async fn missing_object_is_a_real_not_found_status() {
    let fleet = fleet().await;
    let pods: Api<Pod> = Api::namespaced(fleet.client("c1").await.unwrap(), "staging");
    let e = api_error(pods.get("nope").await.unwrap_err());
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (404, "NotFound", "pods \"nope\" not found")
    );
}

#[tokio::test]
async fn deployments_get_a_replicaset_and_ready_pods_and_restart_rolls_them() {
    let fleet = fleet().await;
    let client = fleet.client("c1").await.unwrap();
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "staging");
    let hub = deploys.get("hub").await.unwrap();
    let st = hub.status.clone().unwrap();
    assert_eq!((st.ready_replicas, st.updated_replicas), (Some(1), Some(1)));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "staging");
    let before = pods
        .list(&ListParams::default().labels("component=hub"))
        .await
        .unwrap();
    assert_eq!(before.items.len(), 1);

    fleet
        .cluster("c1")
        .unwrap()
        .set_rollout_delay(Duration::from_millis(200));
    let restart = json!({ "spec": { "template": { "metadata": { "annotations": { "kubectl.kubernetes.io/restartedAt": "2026-11-23T07:00:00Z" } } } } });
    let patched = deploys
        .patch("hub", &PatchParams::default(), &Patch::Strategic(&restart))
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    let ready = await_condition(deploys.clone(), "hub", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref()).is_some_and(|s| {
            s.observed_generation == Some(2)
                && s.updated_replicas == Some(1)
                && s.ready_replicas == Some(1)
                && s.replicas == Some(1)
        })
    });
    tokio::time::timeout(Duration::from_secs(20), ready)
        .await
        .expect("rolls out")
        .unwrap();
    let after = pods
        .list(&ListParams::default().labels("component=hub"))
        .await
        .unwrap();
    assert_eq!(after.items.len(), 1);
    assert_ne!(
        after.items[0].metadata.name, before.items[0].metadata.name,
        "a new pod replaced the old one"
    );
}

#[tokio::test]
async fn scale_subresource_changes_replicas() {
    let fleet = fleet().await;
    let client = fleet.client("c1").await.unwrap();
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "staging");
    let scale = sts.get_scale("user-placeholder").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    sts.patch_scale(
        "user-placeholder",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "replicas": 4 } })),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "staging");
    let placeholders = pods
        .list(&ListParams::default().labels("component=user-placeholder"))
        .await
        .unwrap();
    assert_eq!(placeholders.items.len(), 4);
}

#[tokio::test]
async fn stale_resource_version_update_is_a_409_conflict() {
    let fleet = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(fleet.client("c1").await.unwrap(), "staging");
    let cm: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "hub" }, "data": { "a": "1" } }))
            .unwrap();
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    let again = api_error(cms.create(&PostParams::default(), &cm).await.unwrap_err());
    assert_eq!(again.reason, "AlreadyExists");
    let mut first = created.clone();
    first.data = Some([("a".to_string(), "2".to_string())].into());
    cms.replace("hub", &PostParams::default(), &first)
        .await
        .unwrap();
    let mut stale = created;
    stale.data = Some([("a".to_string(), "3".to_string())].into());
    let e = api_error(
        cms.replace("hub", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
}

#[tokio::test]
async fn watch_reports_changes_after_a_resource_version() {
    let fleet = fleet().await;
    let pods: Api<Pod> = Api::namespaced(fleet.client("c1").await.unwrap(), "staging");
    let list = pods.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let mut stream = pods
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    pods.delete("jupyter-alice", &DeleteParams::default())
        .await
        .unwrap();
    let event = loop {
        let e = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if !matches!(e, WatchEvent::Bookmark(_)) {
            break e;
        }
    };
    match event {
        WatchEvent::Deleted(p) => assert_eq!(p.metadata.name.as_deref(), Some("jupyter-alice")),
        other => panic!("expected a deletion, got {other:?}"),
    }
}

#[tokio::test]
async fn logs_tail_previous_and_container_errors_match_the_api_server() {
    let fleet = fleet().await;
    let pods: Api<Pod> = Api::namespaced(fleet.client("c1").await.unwrap(), "staging");
    let tail = pods
        .logs(
            "jupyter-alice",
            &LogParams {
                tail_lines: Some(1),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail.lines().count(), 1);
    assert!(tail.contains("Jupyter Server is running"));
    let previous = pods
        .logs(
            "jupyter-bob-2ejones",
            &LogParams {
                previous: true,
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert!(previous.contains("jupyterhub-singleuser': No such file or directory"));
    let e = api_error(
        pods.logs(
            "jupyter-alice",
            &LogParams {
                container: Some("nope".into()),
                ..LogParams::default()
            },
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(e.code, 400);
}

#[tokio::test]
async fn eviction_removes_a_pod_and_its_controller_replaces_it() {
    let fleet = fleet().await;
    let pods: Api<Pod> = Api::namespaced(fleet.client("c1").await.unwrap(), "staging");
    pods.evict("user-placeholder-1", &EvictParams::default())
        .await
        .unwrap();
    let back = pods
        .get("user-placeholder-1")
        .await
        .expect("the StatefulSet recreates its pod");
    assert!(back.metadata.uid.is_some());
}

#[tokio::test]
async fn finalizers_keep_a_deleted_pod_terminating() {
    let fleet = fleet().await;
    let pods: Api<Pod> = Api::namespaced(fleet.client("c1").await.unwrap(), "staging");
    pods.patch(
        "jupyter-alice",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "finalizers": ["example.com/hold"] } })),
    )
    .await
    .unwrap();
    pods.delete("jupyter-alice", &DeleteParams::default())
        .await
        .unwrap();
    let stuck = pods.get("jupyter-alice").await.unwrap();
    assert!(stuck.metadata.deletion_timestamp.is_some());
    pods.patch(
        "jupyter-alice",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
    )
    .await
    .unwrap();
    let wait = await_condition(
        pods.clone(),
        "jupyter-alice",
        conditions::is_deleted(stuck.metadata.uid.as_deref().unwrap()),
    );
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn read_only_user_is_forbidden_to_delete_with_the_real_message() {
    let fleet = fleet().await;
    let pods: Api<Pod> = Api::namespaced(
        fleet.client_as("c1", "support-token").await.unwrap(),
        "staging",
    );
    assert!(pods.list(&ListParams::default()).await.is_ok());
    let e = api_error(
        pods.delete("jupyter-alice", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 403);
    assert_eq!(
        e.message,
        "pods \"jupyter-alice\" is forbidden: User \"support\" cannot delete resource \"pods\" in API group \"\" in the namespace \"staging\""
    );
    let bad = fleet.client_as("c1", "wrong-token").await.unwrap();
    let e = api_error(
        Api::<Pod>::namespaced(bad, "staging")
            .list(&ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 401);
}

#[tokio::test]
async fn impersonated_user_gets_only_their_own_rights() {
    let fleet = fleet().await;
    let mut config = kube::Config::from_custom_kubeconfig(
        fleet.kubeconfig(),
        &kube::config::KubeConfigOptions {
            context: Some("c1".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    config.auth_info.impersonate = Some("alice@example.org".into());
    let client = kube::Client::try_from(config).unwrap();
    let staging: Api<Pod> = Api::namespaced(client.clone(), "staging");
    assert!(staging.list(&ListParams::default()).await.is_ok());
    let e = api_error(
        Api::<Node>::all(client)
            .list(&ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 403);
    assert!(
        e.message
            .contains("User \"alice@example.org\" cannot list resource \"nodes\""),
        "{}",
        e.message
    );
    let seen = fleet.cluster("c1").unwrap().requests();
    assert!(seen
        .iter()
        .any(|r| r.impersonated.as_deref() == Some("alice@example.org") && r.user == "admin"));
}

#[tokio::test]
async fn injected_errors_hit_only_matching_requests_and_kube_retries_the_retryable_ones() {
    let fleet = fleet().await;
    let cluster = fleet.cluster("c1").unwrap();
    let pods: Api<Pod> = Api::namespaced(fleet.client("c1").await.unwrap(), "staging");
    let nodes: Api<Node> = Api::all(fleet.client("c1").await.unwrap());
    cluster.add_fault(FaultRule {
        verbs: vec!["get".into()],
        resources: vec!["pods".into()],
        status: Some(500),
        times: Some(1),
        ..FaultRule::default()
    });
    assert!(
        nodes.list(&ListParams::default()).await.is_ok(),
        "other resources are untouched"
    );
    assert_eq!(
        api_error(pods.get("jupyter-alice").await.unwrap_err()).code,
        500
    );
    assert!(
        pods.get("jupyter-alice").await.is_ok(),
        "the fault was used up"
    );

    // 503 and 429 (with Retry-After) are retried by kube's default policy.
    cluster.clear_requests();
    cluster.add_fault(FaultRule {
        resources: vec!["pods".into()],
        status: Some(503),
        times: Some(1),
        ..FaultRule::default()
    });
    cluster.add_fault(FaultRule {
        resources: vec!["pods".into()],
        status: Some(429),
        retry_after: Some(1),
        times: Some(1),
        ..FaultRule::default()
    });
    assert!(pods.list(&ListParams::default()).await.is_ok());
    let statuses: Vec<u16> = cluster
        .requests()
        .iter()
        .filter(|r| r.verb == "list")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![503, 429, 200]);

    cluster.add_fault(FaultRule {
        resources: vec!["pods".into()],
        drop: true,
        times: Some(1),
        ..FaultRule::default()
    });
    assert!(
        pods.list(&ListParams::default()).await.is_err(),
        "a dropped connection is an error"
    );
    assert!(pods.list(&ListParams::default()).await.is_ok());
}

#[tokio::test]
async fn a_hanging_cluster_times_out_at_the_client() {
    let fleet = fleet().await;
    fleet.cluster("c1").unwrap().add_fault(FaultRule {
        resources: vec!["nodes".into()],
        timeout: true,
        ..FaultRule::default()
    });
    let nodes: Api<Node> = Api::all(fleet.client("c1").await.unwrap());
    let r = tokio::time::timeout(
        Duration::from_millis(500),
        nodes.list(&ListParams::default()),
    )
    .await;
    assert!(r.is_err(), "no answer comes");
}

#[tokio::test]
async fn dask_clusters_are_served_as_a_custom_resource() {
    let fleet = fleet().await;
    let client = fleet.client("c1").await.unwrap();
    let ar = kube::discovery::ApiResource {
        group: "gateway.dask.org".into(),
        version: "v1alpha1".into(),
        api_version: "gateway.dask.org/v1alpha1".into(),
        kind: "DaskCluster".into(),
        plural: "daskclusters".into(),
    };
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), "staging", &ar);
    let list = api
        .list(&ListParams::default().labels("gateway.dask.org/user=alice"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let discovery = kube::Discovery::new(client).run().await.unwrap();
    assert!(discovery.groups().any(|g| g.name() == "gateway.dask.org"));
}

#[tokio::test]
async fn faults_can_be_added_and_cleared_over_http_by_an_admin_only() {
    let fleet = fleet().await;
    let url = fleet.server_url("c1").unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(opsbot_sim::tls::CA_PEM.as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let rule = r#"{"resources":["pods"],"status":500,"times":1}"#;
    let denied = http
        .post(format!("{url}/sim/faults"))
        .bearer_auth("support-token")
        .body(rule)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let added = http
        .post(format!("{url}/sim/faults"))
        .bearer_auth(opsbot_sim::ADMIN_TOKEN)
        .body(rule)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 204);
    let pods: Api<Pod> = Api::namespaced(fleet.client("c1").await.unwrap(), "staging");
    assert_eq!(
        api_error(pods.get("jupyter-alice").await.unwrap_err()).code,
        500
    );
    http.post(format!("{url}/sim/faults"))
        .bearer_auth(opsbot_sim::ADMIN_TOKEN)
        .body(r#"{"resources":["pods"],"status":503}"#)
        .send()
        .await
        .unwrap();
    let cleared = http
        .delete(format!("{url}/sim/faults"))
        .bearer_auth(opsbot_sim::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert!(pods.get("jupyter-alice").await.is_ok());
    let bad = http
        .post(format!("{url}/sim/faults"))
        .bearer_auth(opsbot_sim::ADMIN_TOKEN)
        .body(r#"{"latency":"soon"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// Every pod of the demo fleet lists as raw JSON with the container-status
/// fields a kubelet always writes (`imageID`, `image`, `ready`,
/// `restartCount`), which official clients require (the Python client
/// raised on the missing `imageID`), although the seed leaves them out.
#[tokio::test]
async fn every_demo_pod_has_the_container_status_fields_clients_require() {
    let seed = Seed::from_dir(Path::new("examples/fleet")).expect("the demo fleet loads");
    let fleet = Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("fleet starts");
    let mut statuses = 0;
    for cluster in fleet.cluster_names() {
        let pods: Api<kube::api::DynamicObject> = Api::all_with(
            fleet.client(&cluster).await.unwrap(),
            &kube::api::ApiResource::erase::<Pod>(&()),
        );
        for pod in pods.list(&Default::default()).await.unwrap() {
            let v = serde_json::to_value(&pod).unwrap();
            for key in ["containerStatuses", "initContainerStatuses"] {
                for c in v["status"][key].as_array().into_iter().flatten() {
                    statuses += 1;
                    for field in ["name", "image", "imageID", "ready", "restartCount"] {
                        assert!(
                            c.get(field).is_some(),
                            "{cluster}/{}: {key} lacks {field}: {c}",
                            pod.metadata.name.as_deref().unwrap_or("?")
                        );
                    }
                }
            }
        }
        // And the typed client reads every pod.
        let typed: Api<Pod> = Api::all(fleet.client(&cluster).await.unwrap());
        typed.list(&Default::default()).await.unwrap();
    }
    assert!(
        statuses > 10,
        "the demo fleet has running servers: {statuses}"
    );
}
