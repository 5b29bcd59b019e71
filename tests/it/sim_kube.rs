//! The simulator driven through the real `kube` client: every verb, errors,
//! conflict, dry-run, authorization, impersonation, logs and each fault kind.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::Client;
use opsbot_sim::{FaultRule, Fleet, Seed};
use serde_json::json;

async fn fleet() -> Fleet {
    let seed = Seed::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/small"))
        .expect("test seed parses");
    Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("fleet starts")
}

async fn admin(f: &Fleet) -> Client {
    f.client("alpha").await.unwrap()
}

fn api_err(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Poll `cond` until it holds or 10 s pass.
async fn eventually<F, Fut>(mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn names(pods: &[Pod]) -> Vec<String> {
    let mut v: Vec<String> = pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn fleet_lists_clusters_in_seed_order_and_serves_https_urls() {
    let f = fleet().await;
    assert_eq!(f.cluster_names(), vec!["alpha", "beta"]);
    assert!(f
        .server_url("alpha")
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    let kc = f.kubeconfig();
    assert_eq!(kc.current_context.as_deref(), Some("alpha"));
    assert_eq!(kc.contexts.len(), 2);
    let nodes: Api<Node> = Api::all(f.client("beta").await.unwrap());
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn label_selectors_support_equality_sets_and_existence() {
    let f = fleet().await;
    let pods: Api<Pod> = Api::namespaced(admin(&f).await, "staging");
    let q = |s: &str| ListParams::default().labels(s);
    let got = names(
        &pods
            .list(&q("component=singleuser-server"))
            .await
            .unwrap()
            .items,
    );
    assert_eq!(got, vec!["jupyter-frank", "jupyter-grace", "jupyter-stuck"]);
    let got = names(
        &pods
            .list(&q("hub.jupyter.org/username in (frank,grace)"))
            .await
            .unwrap()
            .items,
    );
    assert_eq!(got, vec!["jupyter-frank", "jupyter-grace"]);
    let got = names(
        &pods
            .list(&q(
                "component=singleuser-server,hub.jupyter.org/username notin (frank)",
            ))
            .await
            .unwrap()
            .items,
    );
    assert_eq!(got, vec!["jupyter-grace", "jupyter-stuck"]);
    let without = pods
        .list(&q("!hub.jupyter.org/username"))
        .await
        .unwrap()
        .items;
    assert!(without.iter().all(|p| !p
        .metadata
        .labels
        .as_ref()
        .unwrap()
        .contains_key("hub.jupyter.org/username")));
    assert_eq!(without.len(), 5, "hub + 2 proxy + 2 placeholder pods");
    assert_eq!(
        pods.list(&q("hub.jupyter.org/username"))
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert_eq!(
        pods.list(&q("component!=proxy,app=jupyterhub"))
            .await
            .unwrap()
            .items
            .len(),
        6
    );
}

#[tokio::test]
async fn field_selectors_filter_on_phase_node_and_name() {
    let f = fleet().await;
    let pods: Api<Pod> = Api::all(admin(&f).await);
    let pending = pods
        .list(&ListParams::default().fields("status.phase=Pending"))
        .await
        .unwrap()
        .items;
    assert_eq!(names(&pending), vec!["jupyter-grace"]);
    let on_user = pods
        .list(&ListParams::default().fields("spec.nodeName=node-user-1,metadata.namespace=staging"))
        .await
        .unwrap()
        .items;
    assert!(on_user
        .iter()
        .any(|p| p.metadata.name.as_deref() == Some("jupyter-frank")));
    assert!(on_user
        .iter()
        .all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("node-user-1")));
    let one = pods
        .list(&ListParams::default().fields("metadata.name=jupyter-stuck"))
        .await
        .unwrap()
        .items;
    assert_eq!(names(&one), vec!["jupyter-stuck"]);
}

#[tokio::test]
async fn limit_and_continue_page_through_every_item_once() {
    let f = fleet().await;
    let pods: Api<Pod> = Api::all(admin(&f).await);
    let all = names(&pods.list(&ListParams::default()).await.unwrap().items);
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(3);
    loop {
        let page = pods.list(&lp).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|p| p.metadata.name.clone().unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => lp = ListParams::default().limit(3).continue_token(&c),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, all);
}

#[tokio::test]
async fn create_twice_is_already_exists_and_get_missing_is_not_found() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(admin(&f).await, "staging");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "fresh"}, "data": {"k": "v"}})).unwrap();
    let made = cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(
        made.metadata.uid.is_some()
            && made.metadata.resource_version.is_some()
            && made.metadata.creation_timestamp.is_some()
    );
    let e = api_err(cms.create(&PostParams::default(), &cm).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(e.message, "configmaps \"fresh\" already exists");
    let e = api_err(cms.get("nope").await.unwrap_err());
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (404, "NotFound", "configmaps \"nope\" not found")
    );
    let deps: Api<Deployment> = Api::namespaced(admin(&f).await, "staging");
    let e = api_err(deps.get("nope").await.unwrap_err());
    assert_eq!(e.message, "deployments.apps \"nope\" not found");
}

#[tokio::test]
async fn invalid_name_is_a_422_invalid() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(admin(&f).await, "staging");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "Bad_Name"}})).unwrap();
    let e = api_err(cms.create(&PostParams::default(), &cm).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(
        e.message
            .starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn stale_resource_version_update_is_a_409_conflict() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(admin(&f).await, "staging");
    let mut a = cms.get("hub-config").await.unwrap();
    let mut b = a.clone();
    a.data.as_mut().unwrap().insert("a".into(), "2".into());
    cms.replace("hub-config", &PostParams::default(), &a)
        .await
        .unwrap();
    b.data.as_mut().unwrap().insert("a".into(), "3".into());
    let e = api_err(
        cms.replace("hub-config", &PostParams::default(), &b)
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(e.message.contains("the object has been modified"));
    assert_eq!(cms.get("hub-config").await.unwrap().data.unwrap()["a"], "2");
}

fn lease(name: &str, holder: &str) -> Lease {
    serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                 "renewTime": "2026-01-01T00:00:00.000000Z"},
    }))
    .unwrap()
}

#[tokio::test]
async fn leases_are_served_namespaced_with_create_get_list_patch_and_watch() {
    use futures::{StreamExt, TryStreamExt};
    use kube::api::WatchEvent;
    use kube::api::WatchParams;

    let f = fleet().await;
    let leases: Api<Lease> = Api::namespaced(admin(&f).await, "staging");
    let rv = leases
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = leases
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let made = leases
        .create(&PostParams::default(), &lease("sweeper", "pod-a"))
        .await
        .unwrap();
    assert!(made.metadata.resource_version.is_some());
    let got = leases.get("sweeper").await.unwrap();
    assert_eq!(
        got.spec.as_ref().unwrap().holder_identity.as_deref(),
        Some("pod-a")
    );
    assert_eq!(
        got.spec.unwrap().renew_time.unwrap(),
        made.spec.unwrap().renew_time.unwrap(),
        "MicroTime round-trips"
    );
    let patched = leases
        .patch(
            "sweeper",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"holderIdentity": "pod-b"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.spec.unwrap().holder_identity.as_deref(),
        Some("pod-b")
    );
    let names: Vec<String> = leases
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|l| l.metadata.name.unwrap())
        .collect();
    assert_eq!(names, vec!["sweeper"]);
    let everywhere: Api<Lease> = Api::all(admin(&f).await);
    let all = everywhere.list(&ListParams::default()).await.unwrap().items;
    let sweepers: Vec<Option<String>> = all
        .into_iter()
        .filter(|l| l.metadata.name.as_deref() == Some("sweeper"))
        .map(|l| l.metadata.namespace)
        .collect();
    assert_eq!(sweepers, vec![Some("staging".to_string())]);

    let mut seen = Vec::new();
    while seen.len() < 2 {
        match events
            .try_next()
            .await
            .unwrap()
            .expect("the watch stays open")
        {
            WatchEvent::Added(l) => seen.push(("ADDED", l.spec.unwrap().holder_identity)),
            WatchEvent::Modified(l) => seen.push(("MODIFIED", l.spec.unwrap().holder_identity)),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        vec![
            ("ADDED", Some("pod-a".to_string())),
            ("MODIFIED", Some("pod-b".to_string()))
        ]
    );
}

/// What leader election relies on: of two candidates that read the same
/// Lease and both try to take it, the API server lets exactly one win.
#[tokio::test]
async fn two_lease_updates_from_the_same_read_the_second_is_a_409_conflict() {
    let f = fleet().await;
    let leases: Api<Lease> = Api::namespaced(admin(&f).await, "staging");
    leases
        .create(&PostParams::default(), &lease("sweeper", "pod-a"))
        .await
        .unwrap();
    let read = leases.get("sweeper").await.unwrap();
    let take = |holder: &str| {
        let mut l = read.clone();
        l.spec.as_mut().unwrap().holder_identity = Some(holder.to_string());
        l
    };
    let won = leases
        .replace("sweeper", &PostParams::default(), &take("pod-b"))
        .await
        .unwrap();
    assert_ne!(
        won.metadata.resource_version,
        read.metadata.resource_version
    );
    let e = api_err(
        leases
            .replace("sweeper", &PostParams::default(), &take("pod-c"))
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    // A patch that names the stale version is refused the same way.
    let e = api_err(
        leases
            .patch(
                "sweeper",
                &PatchParams::default(),
                &Patch::Merge(json!({
                    "metadata": {"resourceVersion": read.metadata.resource_version},
                    "spec": {"holderIdentity": "pod-c"},
                })),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    let now = leases.get("sweeper").await.unwrap();
    assert_eq!(now.spec.unwrap().holder_identity.as_deref(), Some("pod-b"));
}

#[tokio::test]
async fn merge_json_and_strategic_patches_apply() {
    let f = fleet().await;
    let client = admin(&f).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "staging");
    let pp = PatchParams::default();
    cms.patch(
        "hub-config",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"x": "1"}}, "data": {"b": "2"}})),
    )
    .await
    .unwrap();
    let jp: json_patch::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/data/a", "value": "9"}]))
            .unwrap();
    cms.patch("hub-config", &pp, &Patch::<()>::Json(jp))
        .await
        .unwrap();
    let cm = cms.get("hub-config").await.unwrap();
    assert_eq!(cm.data.as_ref().unwrap()["a"], "9");
    assert_eq!(cm.data.as_ref().unwrap()["b"], "2");
    assert_eq!(cm.metadata.labels.unwrap()["x"], "1");
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch(
            "node-user-1",
            &pp,
            &Patch::Strategic(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    assert_eq!(
        nodes
            .get("node-user-1")
            .await
            .unwrap()
            .spec
            .unwrap()
            .unschedulable,
        Some(true)
    );
    let deps: Api<Deployment> = Api::namespaced(client, "staging");
    let before = deps.get("proxy").await.unwrap();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "chp", "image": "chp:new"}]}}}});
    deps.patch("proxy", &pp, &Patch::Strategic(patch))
        .await
        .unwrap();
    let after = deps.get("proxy").await.unwrap();
    let c = &after.spec.template.spec.as_ref().unwrap().containers;
    assert_eq!((c.len(), c[0].image.as_deref()), (1, Some("chp:new")));
    assert_eq!(
        after.metadata.generation.unwrap(),
        before.metadata.generation.unwrap() + 1
    );
}

#[tokio::test]
async fn dry_run_answers_but_changes_nothing() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(admin(&f).await, "staging");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "ghost"}})).unwrap();
    let made = cms
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &cm,
        )
        .await
        .unwrap();
    assert_eq!(made.metadata.name.as_deref(), Some("ghost"));
    assert!(cms.get_opt("ghost").await.unwrap().is_none());
    let pp = PatchParams {
        dry_run: true,
        ..Default::default()
    };
    let patched = cms
        .patch(
            "hub-config",
            &pp,
            &Patch::Merge(json!({"data": {"a": "dry"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["a"], "dry");
    assert_eq!(cms.get("hub-config").await.unwrap().data.unwrap()["a"], "1");
    cms.delete(
        "hub-config",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(cms.get_opt("hub-config").await.unwrap().is_some());
    let e = api_err(
        cms.create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &serde_json::from_value(json!({"metadata": {"name": "hub-config"}})).unwrap(),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(e.reason, "AlreadyExists");
}

#[tokio::test]
async fn delete_with_finalizers_stays_terminating_until_they_are_removed() {
    let f = fleet().await;
    let pods: Api<Pod> = Api::namespaced(admin(&f).await, "staging");
    pods.delete("jupyter-stuck", &DeleteParams::default())
        .await
        .unwrap();
    let p = pods.get("jupyter-stuck").await.unwrap();
    assert!(p.metadata.deletion_timestamp.is_some());
    pods.patch(
        "jupyter-stuck",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(pods.get_opt("jupyter-stuck").await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_a_controller_owned_pod_brings_a_new_one() {
    let f = fleet().await;
    let pods: Api<Pod> = Api::namespaced(admin(&f).await, "staging");
    let lp = ListParams::default().labels("component=proxy");
    let before = names(&pods.list(&lp).await.unwrap().items);
    assert_eq!(before.len(), 2);
    pods.delete(&before[0], &DeleteParams::default())
        .await
        .unwrap();
    let ok = eventually(|| {
        let pods = pods.clone();
        let lp = lp.clone();
        let gone = before[0].clone();
        async move {
            let now = pods.list(&lp).await.unwrap().items;
            now.len() == 2 && !names(&now).contains(&gone)
        }
    })
    .await;
    assert!(ok, "a replacement proxy pod appears");
}

#[tokio::test]
async fn scale_subresource_changes_replicas_and_pods_follow() {
    let f = fleet().await;
    let client = admin(&f).await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "staging");
    let scale = deps.get_scale("proxy").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    deps.patch_scale(
        "proxy",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    assert_eq!(deps.get("proxy").await.unwrap().spec.replicas, Some(4));
    let pods: Api<Pod> = Api::namespaced(client, "staging");
    let ok = eventually(|| {
        let pods = pods.clone();
        let deps = deps.clone();
        async move {
            let n = pods
                .list(&ListParams::default().labels("component=proxy"))
                .await
                .unwrap()
                .items
                .len();
            let st = deps.get("proxy").await.unwrap().status.unwrap();
            n == 4 && st.ready_replicas == Some(4) && st.updated_replicas == Some(4)
        }
    })
    .await;
    assert!(ok, "4 ready proxy pods after scaling");
}

#[tokio::test]
async fn rollout_restart_replaces_pods_and_status_completes() {
    let f = fleet().await;
    let client = admin(&f).await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "staging");
    let pods: Api<Pod> = Api::namespaced(client, "staging");
    let lp = ListParams::default().labels("component=hub");
    let old = names(&pods.list(&lp).await.unwrap().items);
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"}}}}});
    deps.patch("hub", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let ok = eventually(|| {
        let (deps, pods, lp, old) = (deps.clone(), pods.clone(), lp.clone(), old.clone());
        async move {
            let d = deps.get("hub").await.unwrap();
            let st = d.status.unwrap();
            let now = names(&pods.list(&lp).await.unwrap().items);
            st.observed_generation == d.metadata.generation
                && st.updated_replicas == Some(1)
                && st.available_replicas == Some(1)
                && st.replicas == Some(1)
                && now.len() == 1
                && now != old
        }
    })
    .await;
    assert!(ok, "hub rolled out a new pod");
}

#[tokio::test]
async fn deletecollection_removes_matching_objects_only() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(admin(&f).await, "staging");
    for n in ["tmp-a", "tmp-b"] {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": n, "labels": {"tmp": "yes"}}}))
                .unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    cms.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("tmp=yes"),
    )
    .await
    .unwrap();
    let left: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert_eq!(left, vec!["hub-config"]);
}

#[tokio::test]
async fn unknown_token_is_401_unauthorized() {
    let f = fleet().await;
    let pods: Api<Pod> = Api::all(f.client_as("alpha", "wrong-token").await.unwrap());
    let e = api_err(pods.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (401, "Unauthorized"));
}

#[tokio::test]
async fn readonly_user_is_forbidden_with_the_apiservers_message() {
    let f = fleet().await;
    let client = f.client_as("alpha", "readonly-token").await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "staging");
    assert!(pods.list(&ListParams::default()).await.is_ok());
    let e = api_err(
        pods.delete("jupyter-frank", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden"));
    assert_eq!(e.message, "pods \"jupyter-frank\" is forbidden: User \"support-readonly\" cannot delete resource \"pods\" in API group \"\" in the namespace \"staging\"");
    let cms: Api<ConfigMap> = Api::namespaced(client, "staging");
    let e = api_err(
        cms.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap(),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(e.message, "configmaps is forbidden: User \"support-readonly\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"staging\"");
}

#[tokio::test]
async fn impersonation_applies_the_impersonated_users_rules() {
    let f = fleet().await;
    let mut cfg = f.client_config("alpha", "opsbot-sim-admin").unwrap();
    cfg.auth_info.impersonate = Some("alice@example.org".into());
    let client = Client::try_from(cfg.clone()).unwrap();
    let staging: Api<Pod> = Api::namespaced(client.clone(), "staging");
    assert!(staging.list(&ListParams::default()).await.is_ok());
    let all: Api<Pod> = Api::all(client);
    let e = api_err(all.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(e.message, "pods is forbidden: User \"alice@example.org\" cannot list resource \"pods\" in API group \"\" at the cluster scope");
    let rec = f.cluster("alpha").unwrap().requests();
    let last = rec
        .iter()
        .rev()
        .find(|r| r.resource.as_deref() == Some("pods"))
        .unwrap();
    assert_eq!(
        (
            last.user.as_str(),
            last.impersonated.as_deref(),
            last.status
        ),
        ("admin", Some("alice@example.org"), 403)
    );

    cfg.auth_info.token = Some("readonly-token".to_string().into());
    let pods: Api<Pod> = Api::namespaced(Client::try_from(cfg).unwrap(), "staging");
    let e = api_err(pods.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(e.message, "users \"alice@example.org\" is forbidden: User \"support-readonly\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope");
}

#[tokio::test]
async fn pod_logs_honour_container_tail_and_previous() {
    let f = fleet().await;
    let pods: Api<Pod> = Api::namespaced(admin(&f).await, "staging");
    let lp = LogParams {
        container: Some("notebook".into()),
        tail_lines: Some(1),
        ..Default::default()
    };
    assert_eq!(
        pods.logs("jupyter-frank", &lp).await.unwrap(),
        "[I 2024-05-01 10:00:02.000 SingleUserLabApp] line three\n"
    );
    let lp = LogParams {
        container: Some("notebook".into()),
        previous: true,
        ..Default::default()
    };
    assert!(pods
        .logs("jupyter-frank", &lp)
        .await
        .unwrap()
        .contains("jupyterhub-singleuser: not found"));
    let e = api_err(
        pods.logs("jupyter-frank", &LogParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.message.as_str()), (400, "a container name must be specified for pod jupyter-frank, choose one of: [notebook sidecar]"));
}

#[tokio::test]
async fn eviction_removes_the_pod_and_its_controller_replaces_it() {
    let f = fleet().await;
    let pods: Api<Pod> = Api::namespaced(admin(&f).await, "staging");
    let hub = names(
        &pods
            .list(&ListParams::default().labels("component=hub"))
            .await
            .unwrap()
            .items,
    )
    .remove(0);
    pods.evict(&hub, &Default::default()).await.unwrap();
    assert!(pods.get_opt(&hub).await.unwrap().is_none());
    let ok = eventually(|| {
        let pods = pods.clone();
        async move {
            pods.list(&ListParams::default().labels("component=hub"))
                .await
                .unwrap()
                .items
                .len()
                == 1
        }
    })
    .await;
    assert!(ok);
}

#[tokio::test]
async fn status_fault_fires_the_given_number_of_times() {
    let f = fleet().await;
    let sim = f.cluster("alpha").unwrap();
    sim.add_fault(FaultRule {
        verbs: vec!["get".into()],
        resources: vec!["deployments".into()],
        status: Some(503),
        times: Some(2),
        ..Default::default()
    });
    sim.clear_requests();
    // kube retries 503s itself, so the third attempt succeeds.
    let deps: Api<Deployment> = Api::namespaced(admin(&f).await, "staging");
    assert!(deps.get("hub").await.is_ok());
    let statuses: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.resource.as_deref() == Some("deployments"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![503, 503, 200]);
    sim.add_fault(FaultRule {
        verbs: vec!["get".into()],
        resources: vec!["deployments".into()],
        status: Some(500),
        times: Some(1),
        ..Default::default()
    });
    let e = api_err(deps.get("hub").await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (500, "InternalError"));
}

#[tokio::test]
async fn throttling_fault_sends_429_with_retry_after() {
    let f = fleet().await;
    let sim = f.cluster("alpha").unwrap();
    sim.add_fault(FaultRule {
        resources: vec!["pods".into()],
        namespaces: vec!["staging".into()],
        status: Some(429),
        retry_after: Some(7),
        times: Some(1),
        ..Default::default()
    });
    let url = format!(
        "{}/api/v1/namespaces/staging/pods",
        f.server_url("alpha").unwrap()
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(opsbot_sim::tls::CA_PEM.as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let resp = client
        .get(&url)
        .bearer_auth("opsbot-sim-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(body["details"]["retryAfterSeconds"], 7);
    let other_ns: Api<Pod> = Api::namespaced(admin(&f).await, "default");
    assert!(other_ns.list(&ListParams::default()).await.is_ok());
}

#[tokio::test]
async fn latency_fault_delays_the_answer() {
    let f = fleet().await;
    let sim = f.cluster("alpha").unwrap();
    sim.add_fault(FaultRule {
        verbs: vec!["list".into()],
        resources: vec!["configmaps".into()],
        latency: Some(Duration::from_millis(300)),
        ..Default::default()
    });
    let cms: Api<ConfigMap> = Api::namespaced(admin(&f).await, "staging");
    let start = std::time::Instant::now();
    cms.list(&ListParams::default()).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn timeout_fault_never_answers_and_drop_fault_closes_the_connection() {
    let f = fleet().await;
    let sim = f.cluster("alpha").unwrap();
    sim.add_fault(FaultRule {
        resources: vec!["nodes".into()],
        timeout: true,
        ..Default::default()
    });
    sim.add_fault(FaultRule {
        resources: vec!["events".into()],
        drop: true,
        ..Default::default()
    });
    let client = admin(&f).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let r = tokio::time::timeout(
        Duration::from_millis(500),
        nodes.list(&ListParams::default()),
    )
    .await;
    assert!(r.is_err(), "the request is still pending");
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::all(client.clone());
    let e = events.list(&ListParams::default()).await.unwrap_err();
    assert!(!matches!(e, kube::Error::Api(_)), "no HTTP answer: {e:?}");
    sim.clear_faults();
    assert!(nodes.list(&ListParams::default()).await.is_ok());
}

#[tokio::test]
async fn requests_are_recorded_with_verb_resource_and_user() {
    let f = fleet().await;
    let sim = f.cluster("alpha").unwrap();
    sim.clear_requests();
    let pods: Api<Pod> = Api::namespaced(admin(&f).await, "staging");
    pods.get("jupyter-frank").await.unwrap();
    let r: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.resource.is_some())
        .collect();
    assert_eq!(r.len(), 1);
    assert_eq!(
        (
            r[0].verb.as_str(),
            r[0].resource.as_deref(),
            r[0].namespace.as_deref(),
            r[0].name.as_deref()
        ),
        ("get", Some("pods"), Some("staging"), Some("jupyter-frank"))
    );
    assert_eq!((r[0].user.as_str(), r[0].status), ("admin", 200));
}

#[tokio::test]
async fn eviction_blocked_by_a_disruption_budget_is_429() {
    let f = fleet().await;
    let client = admin(&f).await;
    let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
        Api::namespaced(client.clone(), "staging");
    let pdb = serde_json::from_value(json!({"metadata": {"name": "hub"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"component": "hub"}}}})).unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    pdbs.patch_status("hub", &PatchParams::default(), &Patch::Merge(json!({"status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}}))).await.unwrap();
    // kube retries 429 for minutes by default; this test wants the first answer.
    let mut cfg = f.client_config("alpha", "opsbot-sim-admin").unwrap();
    cfg.default_retry = false;
    let pods: Api<Pod> = Api::namespaced(Client::try_from(cfg).unwrap(), "staging");
    let hub = names(
        &pods
            .list(&ListParams::default().labels("component=hub"))
            .await
            .unwrap()
            .items,
    )
    .remove(0);
    let e = api_err(pods.evict(&hub, &Default::default()).await.unwrap_err());
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            429,
            "Cannot evict pod as it would violate the pod's disruption budget."
        )
    );
    assert!(pods.get_opt(&hub).await.unwrap().is_some());
}

#[tokio::test]
async fn self_subject_access_review_answers_from_the_users_rules() {
    use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
    let f = fleet().await;
    let ask = |verb: &str, resource: &str| -> SelfSubjectAccessReview {
        serde_json::from_value(json!({"spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": "staging"}}})).unwrap()
    };
    let reviews: Api<SelfSubjectAccessReview> =
        Api::all(f.client_as("alpha", "readonly-token").await.unwrap());
    let yes = reviews
        .create(&PostParams::default(), &ask("list", "pods"))
        .await
        .unwrap();
    assert!(yes.status.unwrap().allowed);
    let no = reviews
        .create(&PostParams::default(), &ask("delete", "pods"))
        .await
        .unwrap();
    assert!(!no.status.unwrap().allowed);
}

#[tokio::test]
async fn pods_without_a_schedulable_node_stay_pending_until_one_is_uncordoned() {
    let f = fleet().await;
    f.cluster("alpha")
        .unwrap()
        .set_rollout_delay(Duration::from_millis(100));
    let client = admin(&f).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let pp = PatchParams::default();
    nodes
        .patch(
            "node-core-1",
            &pp,
            &Patch::Strategic(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "staging");
    deps.patch_scale("hub", &pp, &Patch::Merge(json!({"spec": {"replicas": 2}})))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "staging");
    let lp = ListParams::default()
        .labels("component=hub")
        .fields("status.phase=Pending");
    let pending = eventually(|| {
        let (pods, lp) = (pods.clone(), lp.clone());
        async move { pods.list(&lp).await.unwrap().items.len() == 1 }
    })
    .await;
    assert!(pending, "the second hub pod waits for a core node");
    let p = pods.list(&lp).await.unwrap().items.remove(0);
    let cond = &p.status.unwrap().conditions.unwrap()[0];
    assert_eq!(
        (cond.reason.as_deref(), cond.status.as_str()),
        (Some("Unschedulable"), "False")
    );
    nodes
        .patch(
            "node-core-1",
            &pp,
            &Patch::Strategic(json!({"spec": {"unschedulable": false}})),
        )
        .await
        .unwrap();
    let running = eventually(|| {
        let pods = pods.clone();
        async move {
            let hubs = pods
                .list(&ListParams::default().labels("component=hub"))
                .await
                .unwrap()
                .items;
            hubs.len() == 2
                && hubs
                    .iter()
                    .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        }
    })
    .await;
    assert!(running, "both hub pods run after uncordon");
}
