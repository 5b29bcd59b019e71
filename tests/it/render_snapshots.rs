//! What people read for `triage` and `fleet status` on every platform: the
//! real updates of a run on the demo fleet, fed to the console, Slack, GitHub
//! and Discord renderers, each final rendering pinned as a snapshot.
//!
//! A change to a snapshot changes what people see: review it as such.
//! Only what varies from run to run is redacted (run ids, timings, ages);
//! every word, mark and layout choice of the renderers stays pinned.

use crate::support::bot;
use opsbot::chat::view::RunView;

use bot::{done_output, Bot};
use opsbot::chat::{console, discord, github, slack, Outcome, Update};

/// Who asks: `bob` is support, so these are what a support person sees.
const ASKER: &str = "bob";
/// bob's GitHub login in the demo config (the GitHub story mentions it on refusals).
const GITHUB_LOGIN: &str = "bob-demo";

/// The four renderings of one request's updates.
struct Rendered {
    console: String,
    slack: serde_json::Value,
    github: String,
    discord: serde_json::Value,
}

/// Feed the same updates to every renderer, as each adapter does.
fn render_all(updates: &[Update]) -> Rendered {
    // Console: every update printed in turn, as the prompt shows them.
    let console = updates
        .iter()
        .map(console::render)
        .collect::<Vec<_>>()
        .join("\n");

    // Slack: the result message posted in the run's thread.
    let slack = match updates.last() {
        Some(Update::Done {
            run,
            command,
            person,
            outcome,
            output,
            millis,
            ..
        }) => {
            let done = slack::render::Done {
                run: *run,
                command,
                person,
                outcome: *outcome,
                output,
                millis: *millis,
            };
            serde_json::to_value(slack::render::result(&done).content).expect("slack json")
        }
        other => panic!("expected a finished run, got {other:#?}"),
    };

    // GitHub: the one comment, folded from every update.
    let mut view = RunView::default();
    for u in updates {
        view.apply(u);
    }
    let github = github::render::markdown(&view, GITHUB_LOGIN);

    // Discord: the edited interaction response (content, embed, components).
    let mut story = RunView::default();
    for u in updates {
        assert!(story.apply(u), "not part of a run's story: {u:#?}");
    }
    let message = discord::render::story(&story);
    let discord = serde_json::to_value(message.into_edit()).expect("discord json");

    Rendered {
        console,
        slack,
        github,
        discord,
    }
}

/// Snapshot all four renderings under `name`, with what varies redacted.
fn assert_snapshots(name: &str, r: &Rendered) {
    insta::with_settings!({
        filters => vec![
            // A redacted value may follow a space, punctuation, the start of a
            // line, or a JSON-escaped newline (`\n42 ms`): `(^|\W|\\n)` keeps that.
            // Run ids: "run 3", "audit 3", "run-3.md", button ids "opsbot:cancel:3".
            (r"\brun \d+\b", "run [RUN]"),
            (r"\baudit \d+\b", "audit [RUN]"),
            (r"\brun-\d+\.md\b", "run-[RUN].md"),
            (r"opsbot:(\w+):\d+", "opsbot:$1:[RUN]"),
            // Durations: "12 ms", "1.4 s", "2m 05s" all become one token, so
            // a slow machine (a run over a second) pins the same text.
            (r"(?m)(^|\W|\\n)\d+ ms\b", "${1}[DURATION]"),
            (r"(?m)(^|\W|\\n)\d+\.\d s\b", "${1}[DURATION]"),
            (r"(?m)(^|\W|\\n)\d+m \d{2}s\b", "${1}[DURATION]"),
            // Ages of pods and events: "age 25m", "1m ago", "for 4d", "idle 3h12m"
            // (only beside those words: "cpu 500m" is a request, not an age).
            (r"\b(age|for|idle) \d+[dhms](?:\d+[hms])*\b", "$1 [AGE]"),
            (r"(?m)(^|\W|\\n)\d+[dhms](?:\d+[hms])* ago\b", "${1}[AGE] ago"),
            // Timestamps and ports (none expected here; redacted should they appear).
            (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z| UTC)?", "[TIME]"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        ],
    }, {
        insta::assert_snapshot!(format!("{name}__console"), r.console);
        insta::assert_json_snapshot!(format!("{name}__slack"), r.slack);
        insta::assert_snapshot!(format!("{name}__github"), r.github);
        insta::assert_json_snapshot!(format!("{name}__discord"), r.discord);
    });
}

/// Every rendering carries `needle` (a fact the answer must not lose).
fn all_say(r: &Rendered, needle: &str) {
    let slack = r.slack.to_string();
    let discord = r.discord.to_string();
    for (platform, text) in [
        ("console", r.console.as_str()),
        ("slack", slack.as_str()),
        ("github", r.github.as_str()),
        ("discord", discord.as_str()),
    ] {
        assert!(text.contains(needle), "{platform} lost {needle:?}:\n{text}");
    }
}

#[tokio::test]
async fn triage_of_a_server_that_cannot_pull_its_image_reads_the_same_everywhere() {
    let mut bot = Bot::start().await;
    let updates = bot.ask(ASKER, "triage staging dave").await;
    let (outcome, output) = done_output(&updates);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    let r = render_all(&updates);
    all_say(&r, "The server's image cannot be pulled");
    all_say(&r, "2024-13-01");
    all_say(&r, "Reply to the user");
    assert_snapshots("triage_image_pull", &r);
}

#[tokio::test]
async fn triage_of_a_server_too_big_for_its_pool_names_the_pool_that_fits_everywhere() {
    let mut bot = Bot::start().await;
    let updates = bot.ask(ASKER, "triage staging erin").await;
    let (outcome, output) = done_output(&updates);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    let r = render_all(&updates);
    all_say(&r, "No node has enough free memory for the server");
    all_say(&r, "2 Insufficient memory");
    // The demo fleet's 48Gi profile fits an empty user-r5-2xlarge node, but
    // the ready ones are full and the autoscaler's status has the pool at
    // its maximum: every renderer says so.
    all_say(&r, "Pool user-r5-2xlarge is full");
    all_say(&r, "at its maximum size (4/4)");
    assert_snapshots("triage_insufficient_memory", &r);
}

#[tokio::test]
async fn fleet_status_lists_every_hub_on_every_platform() {
    let mut bot = Bot::start().await;
    let updates = bot.ask(ASKER, "fleet status").await;
    let (outcome, output) = done_output(&updates);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    let r = render_all(&updates);
    let hubs = bot.demo.app.runs.context().hubs.all().to_vec();
    assert!(!hubs.is_empty());
    for hub in &hubs {
        all_say(
            &r,
            &format!("{} ({}/{})", hub.name, hub.cluster, hub.namespace),
        );
    }
    all_say(&r, &format!("Fleet: {} hubs", hubs.len()));
    assert_snapshots("fleet_status", &r);
}
