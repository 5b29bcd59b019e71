//! The Lease elector (`runs::elect`) against the simulator's API server:
//! candidates on one Lease elect exactly one leader, and when the leader
//! stops renewing another takes over once the Lease has lapsed.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use opsbot::runs::elect::Elector;
use opsbot_sim::{Fleet, Seed};

async fn fleet() -> Fleet {
    let seed = Seed::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/small"))
        .expect("test seed parses");
    Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("fleet starts")
}

/// Polls `cond` every 20 ms until it holds; panics saying `what` after 15 s.
async fn until<F: FnMut() -> bool>(what: &str, mut cond: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn holder_and_transitions(leases: &Api<Lease>) -> (Option<String>, Option<i32>, String) {
    let l = leases.get("sweeper").await.unwrap();
    let spec = l.spec.unwrap();
    (
        spec.holder_identity,
        spec.lease_transitions,
        l.metadata.resource_version.unwrap(),
    )
}

#[tokio::test]
async fn two_candidates_elect_exactly_one_and_the_other_takes_over_when_it_stops_renewing() {
    let f = fleet().await;
    let client = f.client("alpha").await.unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "staging");
    let second = Duration::from_secs(1);
    let a = Elector::new(client.clone(), "staging", "sweeper", "pod-a", second);
    let b = Elector::new(client.clone(), "staging", "sweeper", "pod-b", second);
    until("a leader", || a.is_leader() || b.is_leader()).await;

    // Over several renewals (each changes the Lease's resourceVersion) the
    // leader stays the Lease's holder and the other never leads.
    let (first_holder, _, mut rv) = holder_and_transitions(&leases).await;
    let (leader, follower, follower_id) = if a.is_leader() {
        (a, b, "pod-b")
    } else {
        (b, a, "pod-a")
    };
    let leader_id = first_holder.clone().unwrap();
    assert_ne!(leader_id, follower_id);
    let mut renewals = 0;
    while renewals < 4 {
        assert!(
            leader.is_leader() && !follower.is_leader(),
            "exactly one leads"
        );
        let (holder, transitions, now) = holder_and_transitions(&leases).await;
        assert_eq!(holder, first_holder, "the holder does not change");
        assert_eq!(transitions, Some(0));
        if now != rv {
            renewals += 1;
            rv = now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The leader stops renewing (as a crashed replica would: nothing is
    // released); the follower takes the Lease once it has lapsed.
    let mut follower_changes = follower.watch();
    drop(leader);
    until("the follower leads", || {
        *follower_changes.borrow_and_update()
    })
    .await;
    let (holder, transitions, _) = holder_and_transitions(&leases).await;
    assert_eq!(holder.as_deref(), Some(follower_id));
    assert_eq!(transitions, Some(1), "one change of holder");
}

#[tokio::test]
async fn a_candidate_does_not_take_a_lease_another_holder_keeps_renewing() {
    let f = fleet().await;
    let client = f.client("alpha").await.unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "staging");
    let second = Duration::from_secs(1);
    let first = Elector::new(client.clone(), "staging", "sweeper", "pod-a", second);
    until("the first candidate leads", || first.is_leader()).await;
    let late = Elector::new(client.clone(), "staging", "sweeper", "pod-b", second);
    // Well past one lease duration of renewals, the late candidate follows.
    let (_, _, mut rv) = holder_and_transitions(&leases).await;
    let mut renewals = 0;
    while renewals < 6 {
        assert!(!late.is_leader(), "the late candidate took a live Lease");
        let (holder, _, now) = holder_and_transitions(&leases).await;
        assert_eq!(holder.as_deref(), Some("pod-a"));
        if now != rv {
            renewals += 1;
            rv = now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(first.is_leader());
}
