//! The operations pack through opsbot's real path (grammar → authz → run →
//! reply) in the embedded demo: the answers carry the demo fleet's facts.

use crate::support::bot;

use bot::{done_output, Bot};
use opsbot::chat::Outcome;

#[tokio::test]
async fn triage_through_the_bot_leads_with_the_finding_and_a_reply() {
    let mut bot = Bot::start().await;
    let updates = bot.ask("bob", "triage staging dave").await;
    let (outcome, output) = done_output(&updates);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    assert!(
        output.contains("Triage of dave on staging: The server's image cannot be pulled"),
        "{output}"
    );
    assert!(output.contains("2024-13-01"), "{output}");
    assert!(output.contains("Reply to the user:"), "{output}");

    let updates = bot.ask("bob", "triage edu tom@school.edu").await;
    let (outcome, output) = done_output(&updates);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    assert!(
        output.contains("jupyterhub-singleuser cannot be started"),
        "{output}"
    );
}

#[tokio::test]
async fn read_only_pack_commands_answer_through_the_bot() {
    let mut bot = Bot::start().await;
    let (outcome, output) = done_output(&bot.ask("alice", "stuck staging --older 1h").await);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    assert!(
        output.contains("`jupyter-gina` terminating for"),
        "{output}"
    );
    let (outcome, output) = done_output(&bot.ask("alice", "dask clusters climate nora").await);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    assert!(
        output.contains("**1 Dask cluster(s) on climate for nora**"),
        "{output}"
    );
}

#[tokio::test]
async fn mutating_pack_commands_wait_for_approval_with_a_plan() {
    let mut bot = Bot::start().await;
    // Evicting user servers needs two approvers; the demo has only one.
    let updates = bot
        .ask(
            "alice",
            "node drain-all aws-us ip-10-0-93-7.us-west-2.compute.internal",
        )
        .await;
    let (_, detail) = bot::refusal(&updates);
    assert!(
        detail.contains("needs approval by 2 other people"),
        "{detail}"
    );
    for text in [
        "node drain aws-us ip-10-0-93-7.us-west-2.compute.internal",
        "node cordon aws-us ip-10-0-93-7.us-west-2.compute.internal",
        "placeholders scale binder 4",
        "dask stop climate climate.7c1e3f9a2b4d4e6f8a0b1c2d3e4f5a6b",
    ] {
        let updates = bot.ask("alice", text).await;
        let waiting = updates.iter().find_map(|u| match u {
            opsbot::chat::Update::AwaitingApproval { plan, .. } => Some(plan.clone()),
            _ => None,
        });
        let plan = waiting.unwrap_or_else(|| panic!("{text}: no approval asked: {updates:#?}"));
        assert!(!plan.is_empty(), "{text}: empty plan");
        let resolved = bot.preview().await;
        assert!(!resolved.is_empty(), "{text}: empty resolved plan");
    }
}

fn plan_of(updates: &[opsbot::chat::Update]) -> Vec<String> {
    updates
        .iter()
        .find_map(|u| match u {
            opsbot::chat::Update::AwaitingApproval { plan, .. } => Some(plan.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no approval asked: {updates:#?}"))
}

#[tokio::test]
async fn user_stop_preview_says_which_way_the_stop_would_go_and_the_hub_does_it() {
    let mut bot = Bot::start().await;
    // dave's server is still starting: the hub cannot stop it, the pod goes.
    plan_of(&bot.ask("alice", "user stop staging dave").await);
    let plan = bot.preview().await;
    assert!(
        plan.iter()
            .any(|l| l.starts_with("pod: delete v1 pods staging/jupyter-dave")),
        "{plan:#?}"
    );
    assert!(
        plan.iter()
            .any(|l| l.contains("the hub says: dave is not running spawn")),
        "{plan:#?}"
    );

    // alice's server is ready: the hub stops it, and no pod step is planned.
    let asked = bot.ask("dave", "user stop staging alice").await;
    plan_of(&asked);
    let plan = bot.preview().await;
    assert!(!plan.iter().any(|l| l.starts_with("pod:")), "{plan:#?}");
    assert!(
        plan.iter()
            .any(|l| l == "dry run: the hub would stop the server of **alice** on staging through its REST API (as the idle culler does). Nothing was changed."),
        "{plan:#?}"
    );
    let run = bot::run_of(&asked);
    let approved = bot.ask("alice", &format!("approve {run}")).await;
    let (outcome, output) = done_output(&approved);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    assert!(
        output.starts_with("Stopped the server of **alice** on staging through the hub's REST API"),
        "{output}"
    );
    assert!(bot
        .demo
        .fleet
        .hub_requests()
        .iter()
        .any(|q| q.method == "DELETE" && q.path == "/users/alice/server" && q.status == 204));
}
