//! Watch semantics through the real `kube` client: event types, resuming
//! from a resourceVersion, 410 Expired, timeouts, and `kube::runtime::watcher`.

use std::path::Path;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{watcher, WatchStreamExt};
use opsbot_sim::{Fleet, Seed};
use serde_json::json;

async fn fleet() -> Fleet {
    let seed = Seed::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/small"))
        .expect("test seed parses");
    Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("fleet starts")
}

const LIMIT: Duration = Duration::from_secs(10);

/// The next non-bookmark event (None when the stream ended).
async fn next_event<S>(stream: &mut S) -> Option<WatchEvent<ConfigMap>>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    loop {
        match tokio::time::timeout(LIMIT, stream.try_next())
            .await
            .expect("event in time")
            .expect("no transport error")
        {
            Some(WatchEvent::Bookmark(_)) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn watch_from_a_list_version_sees_added_modified_deleted_in_order() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client("alpha").await.unwrap(), "staging");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().timeout(20), &rv)
        .await
        .unwrap()
        .boxed();
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "w"}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    cms.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    cms.delete("w", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let ev = tokio::time::timeout(LIMIT, stream.try_next())
            .await
            .expect("event in time")
            .unwrap()
            .expect("stream open");
        match ev {
            WatchEvent::Added(c) => kinds.push(format!("ADDED {}", c.metadata.name.unwrap())),
            WatchEvent::Modified(c) => kinds.push(format!("MODIFIED {}", c.data.unwrap()["k"])),
            WatchEvent::Deleted(c) => kinds.push(format!("DELETED {}", c.metadata.name.unwrap())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("unexpected error event {e:?}"),
        }
    }
    assert_eq!(kinds, vec!["ADDED w", "MODIFIED v", "DELETED w"]);
}

#[tokio::test]
async fn watch_filters_by_label_selector() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client("alpha").await.unwrap(), "staging");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().labels("pick=me").timeout(20), &rv)
        .await
        .unwrap()
        .boxed();
    for (name, pick) in [("skip", "no"), ("take", "me")] {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"pick": pick}}}))
                .unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let ev = next_event(&mut stream).await.unwrap();
    assert!(matches!(ev, WatchEvent::Added(c) if c.metadata.name.as_deref() == Some("take")));
}

#[tokio::test]
async fn watch_from_a_compacted_version_gets_410_expired() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client("alpha").await.unwrap(), "staging");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    cms.patch(
        "hub-config",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2"}})),
    )
    .await
    .unwrap();
    f.cluster("alpha").unwrap().compact_history();
    let mut stream = cms
        .watch(&WatchParams::default().timeout(20), &rv)
        .await
        .unwrap()
        .boxed();
    let ev = next_event(&mut stream).await.unwrap();
    match ev {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410 Expired, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_ends_after_timeout_seconds() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client("alpha").await.unwrap(), "staging");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap()
        .boxed();
    assert!(
        next_event(&mut stream).await.is_none(),
        "stream ends by itself"
    );
}

#[tokio::test]
async fn runtime_watcher_sees_a_rollout_complete() {
    let f = fleet().await;
    let sim = f.cluster("alpha").unwrap();
    sim.set_rollout_delay(Duration::from_millis(200));
    let client = f.client("alpha").await.unwrap();
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "staging");
    let pods: Api<Pod> = Api::namespaced(client, "staging");
    let mut stream = watcher(pods, watcher::Config::default().labels("component=proxy"))
        .applied_objects()
        .boxed();
    // Initial state: the two seeded proxy pods.
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 2 {
        let p = tokio::time::timeout(LIMIT, stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.insert(p.metadata.name.unwrap());
    }
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}});
    deps.patch("proxy", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    // New pods appear and become ready.
    let mut ready_new = std::collections::HashSet::new();
    while ready_new.len() < 2 {
        let p = tokio::time::timeout(LIMIT, stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let name = p.metadata.name.clone().unwrap();
        let ready = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if !seen.contains(&name) && ready {
            ready_new.insert(name);
        }
    }
    let done = tokio::time::timeout(LIMIT, async {
        loop {
            let d = deps.get("proxy").await.unwrap();
            let st = d.status.clone().unwrap();
            if st.updated_replicas == Some(2)
                && st.replicas == Some(2)
                && st.available_replicas == Some(2)
                && st.observed_generation == d.metadata.generation
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "deployment status reports the rollout complete"
    );
}

#[tokio::test]
async fn objects_leaving_or_entering_a_selector_are_deleted_or_added_for_that_watch() {
    let f = fleet().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client("alpha").await.unwrap(), "staging");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().labels("x=1").timeout(20), &rv)
        .await
        .unwrap()
        .boxed();
    let pp = PatchParams::default();
    cms.patch(
        "hub-config",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"x": "1"}}})),
    )
    .await
    .unwrap();
    cms.patch(
        "hub-config",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"x": "2"}}})),
    )
    .await
    .unwrap();
    assert!(matches!(
        next_event(&mut stream).await.unwrap(),
        WatchEvent::Added(_)
    ));
    assert!(matches!(
        next_event(&mut stream).await.unwrap(),
        WatchEvent::Deleted(_)
    ));
}
