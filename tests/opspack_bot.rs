//! The operations pack through opsbot's real path (grammar → authz → run →
//! reply) in the embedded demo: the answers carry the demo fleet's facts.

#[path = "support/bot.rs"]
mod bot;

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
