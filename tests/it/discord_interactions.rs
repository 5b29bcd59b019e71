//! The Discord interactions endpoint, end to end: signed requests in, the
//! HTTP answer, and the calls serenity's client makes to a local fake of
//! Discord's API afterwards.

use crate::support::discord;

use discord::{
    autocomplete, button, command, typed_autocomplete, Rig, ALICE, CAROL, PING, STRANGER,
};
use ed25519_dalek::SigningKey;
use serde_json::Value;
use std::sync::atomic::Ordering;

async fn json(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn is_original_edit(c: &discord::Call) -> bool {
    c.method == "PATCH" && c.path.ends_with("/messages/@original")
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let rig = Rig::start().await;
    let v = json(rig.send(PING).await).await;
    assert_eq!(v, serde_json::json!({ "type": 1 }));
}

#[tokio::test]
async fn forged_signature_is_refused_and_nothing_runs() {
    let rig = Rig::start().await;
    let other = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let ts = chrono::Utc::now().timestamp().to_string();
    let r = rig
        .send_signed(&command(ALICE, "hub status staging"), &ts, &other)
        .await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("bad signature"));
    assert!(rig.core.requests.lock().unwrap().is_empty());
    assert_eq!(rig.core.refusals.lock().unwrap()[0].1, "bad_signature");
}

#[tokio::test]
async fn stale_timestamp_is_refused_even_with_a_valid_signature() {
    let rig = Rig::start().await;
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    let r = rig
        .send_signed(&command(ALICE, "hub status staging"), &old, &rig.key)
        .await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("stale"));
    assert!(rig.core.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn missing_signature_headers_are_refused() {
    let rig = Rig::start().await;
    let r = rig.http.post(&rig.url).body(PING).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("X-Signature-Timestamp"));
}

#[tokio::test]
async fn malformed_json_is_a_400_that_says_what_was_expected() {
    let rig = Rig::start().await;
    let r = rig.send("{\"type\": 2, \"id\": ").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("malformed interaction"));
    assert!(rig.core.requests.lock().unwrap().is_empty());
    // The endpoint keeps serving.
    assert_eq!(json(rig.send(PING).await).await["type"], 1);
}

#[tokio::test]
async fn unknown_user_gets_a_private_not_set_up_answer() {
    let rig = Rig::start().await;
    let v = json(rig.send(&command(STRANGER, "hub status staging")).await).await;
    assert_eq!(v["type"], 4);
    assert_eq!(v["data"]["flags"], 64, "ephemeral: {v}");
    assert!(v["data"]["content"]
        .as_str()
        .unwrap()
        .contains("not set up"));
}

#[tokio::test]
async fn command_is_deferred_then_its_reply_is_edited_to_the_result() {
    let rig = Rig::start().await;
    let v = json(rig.send(&command(ALICE, "hub status staging")).await).await;
    assert_eq!(v["type"], 5, "deferred answer: {v}");
    assert_eq!(rig.core.texts(), vec!["hub status staging"]);
    let req = rig.core.requests.lock().unwrap()[0].clone();
    assert_eq!(req.sender, ALICE);
    assert_eq!(
        serde_json::to_value(&req.place).unwrap()["channel_id"],
        "4444444444444444444"
    );
    assert!(
        serde_json::to_value(&req.place)
            .unwrap()
            .get("token")
            .is_none(),
        "the interaction token is a credential; it is not recorded"
    );

    let last = rig
        .api
        .wait_for("with the finished run", |c| {
            is_original_edit(c)
                && c.json()["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("succeeded")
        })
        .await;
    assert!(
        last.path
            .contains("/webhooks/1111111111111111111/aW50ZXJhY3Rpb24tdG9rZW4tMg/"),
        "{}",
        last.path
    );
    let body = last.json();
    assert_eq!(body["embeds"][0]["color"], 0x57F287, "green for success");
    assert!(body["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("Hub **staging** is ready."));
    assert!(body["embeds"][0]["footer"]["text"]
        .as_str()
        .unwrap()
        .contains("audit 42"));
    assert_eq!(
        body["components"],
        serde_json::json!([]),
        "no buttons on a finished run"
    );
    assert!(
        rig.api.violations.lock().unwrap().is_empty(),
        "{:?}",
        rig.api.violations.lock().unwrap()
    );
}

#[tokio::test]
async fn long_output_is_sent_as_an_attached_file() {
    let rig = Rig::start().await;
    json(rig.send(&command(ALICE, "users staging")).await).await;
    let call = rig
        .api
        .wait_for("with an attachment", |c| {
            is_original_edit(c) && c.content_type.starts_with("multipart/")
        })
        .await;
    assert!(
        call.body_text().contains("filename=\"run-43.md\""),
        "{}",
        call.body_text()
    );
    assert!(
        call.body_text().contains("jupyter-user299"),
        "the whole output is in the file"
    );
    assert!(
        rig.api.violations.lock().unwrap().is_empty(),
        "{:?}",
        rig.api.violations.lock().unwrap()
    );
}

#[tokio::test]
async fn a_runs_chart_is_attached_as_a_png_to_a_follow_up_under_its_answer() {
    let rig = Rig::start().await;
    json(rig.send(&command(ALICE, "hub load staging")).await).await;
    let call = rig
        .api
        .wait_for("a follow-up with the chart", |c| {
            c.method == "POST"
                && c.path.contains("/webhooks/")
                && c.content_type.starts_with("multipart/")
        })
        .await;
    let body = call.body_text();
    assert!(
        body.contains("filename=\"hub-load-running-over-time.png\""),
        "{body}"
    );
    assert!(
        call.body.windows(8).any(|w| w == b"\x89PNG\r\n\x1a\n"),
        "the PNG bytes are in the upload"
    );
    assert!(
        call.json()["content"]
            .as_str()
            .unwrap_or("")
            .contains("Running servers on staging, last 6h"),
        "{}",
        call.json()
    );
    assert_ne!(
        call.json()["flags"],
        64,
        "the chart is public, not ephemeral"
    );
    assert!(
        rig.api.violations.lock().unwrap().is_empty(),
        "{:?}",
        rig.api.violations.lock().unwrap()
    );
}

#[tokio::test]
async fn slow_cluster_does_not_hold_up_the_answer() {
    let rig = Rig::start().await;
    rig.core.slow.store(true, Ordering::SeqCst);
    // The run cannot finish until released, yet the answer arrives.
    let v = json(rig.send(&command(ALICE, "hub status staging")).await).await;
    assert_eq!(v["type"], 5);
    rig.api
        .wait_for("showing the run as running", |c| {
            is_original_edit(c)
                && c.json()["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("running")
        })
        .await;
    assert!(!rig.api.calls().iter().any(|c| c.json()["content"]
        .as_str()
        .unwrap_or("")
        .contains("succeeded")));
    rig.core.release.notify_one();
    rig.api
        .wait_for("with the finished run", |c| {
            c.json()["content"]
                .as_str()
                .unwrap_or("")
                .contains("succeeded")
        })
        .await;
}

#[tokio::test]
async fn autocomplete_offers_commands_then_hub_names() {
    let rig = Rig::start().await;
    let v = json(rig.send(&autocomplete(ALICE, "hub st")).await).await;
    assert_eq!(v["type"], 8);
    assert_eq!(v["data"]["choices"][0]["value"], "hub status");
    let v = json(rig.send(&autocomplete(ALICE, "hub status st")).await).await;
    assert_eq!(v["data"]["choices"][0]["value"], "hub status staging");
    assert!(
        rig.core.requests.lock().unwrap().is_empty(),
        "typing runs nothing"
    );
}

/// Issue 16: any member could crash the handler with text whose lower case
/// is longer than itself (`İ`); now it is answered like any other text.
#[tokio::test]
async fn autocomplete_on_text_whose_lower_case_is_longer_answers_and_keeps_serving() {
    let rig = Rig::start().await;
    let resp = rig.send(&autocomplete(ALICE, "hub status İİ ")).await;
    assert_eq!(resp.status(), 200);
    let v = json(resp).await;
    assert_eq!(v["type"], 8);
    assert_eq!(v["data"]["choices"][0]["value"], "hub status İİ staging");
    let v = json(rig.send(&autocomplete(ALICE, "hub st")).await).await;
    assert_eq!(
        v["data"]["choices"][0]["value"], "hub status",
        "still serving"
    );
}

#[tokio::test]
async fn approval_request_has_buttons_and_another_person_approves_it() {
    let rig = Rig::start().await;
    let v = json(
        rig.send(&command(ALICE, "hub restart staging --reason config"))
            .await,
    )
    .await;
    assert_eq!(v["type"], 4);
    let buttons = &v["data"]["components"][0]["components"];
    assert_eq!(buttons[0]["custom_id"], "opsbot:approve:7");
    assert_eq!(buttons[1]["custom_id"], "opsbot:deny:7");

    let pressed = json(rig.send(&button(CAROL, "opsbot:approve:7")).await).await;
    assert_eq!(
        pressed["type"], 7,
        "the approval message is updated in place: {pressed}"
    );
    assert!(pressed["data"]["content"]
        .as_str()
        .unwrap()
        .contains("approved by carol"));
    assert_eq!(
        pressed["data"]["components"],
        serde_json::json!([]),
        "no second approval"
    );
    let req = rig.core.requests.lock().unwrap()[1].clone();
    assert_eq!(
        (req.sender.as_str(), req.text.as_str()),
        (CAROL, "approve 7")
    );

    // The requester's message then tells the run's story to its end.
    let done = rig
        .api
        .wait_for("with the approved run's result", |c| {
            is_original_edit(c)
                && c.json()["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("succeeded")
        })
        .await;
    let fields = done.json()["embeds"][0]["fields"].to_string();
    assert!(
        fields.contains("Approved by") && fields.contains("carol"),
        "{fields}"
    );
}

#[tokio::test]
async fn self_approval_is_refused_privately() {
    let rig = Rig::start().await;
    json(
        rig.send(&command(ALICE, "hub restart staging --reason config"))
            .await,
    )
    .await;
    let pressed = json(rig.send(&button(ALICE, "opsbot:approve:7")).await).await;
    assert_eq!(pressed["type"], 4);
    assert_eq!(pressed["data"]["flags"], 64);
    assert!(pressed["data"]["content"]
        .as_str()
        .unwrap()
        .contains("cannot approve"));
}

#[tokio::test]
async fn a_button_that_is_not_ours_does_nothing() {
    let rig = Rig::start().await;
    let pressed = json(rig.send(&button(CAROL, "opsbot:rm:7")).await).await;
    assert_eq!(pressed["data"]["flags"], 64);
    assert!(rig.core.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn replayed_interaction_is_refused_and_runs_once() {
    let rig = Rig::start().await;
    let body = command(ALICE, "hub status staging");
    json(rig.send(&body).await).await;
    let again = rig.send(&body).await;
    assert_eq!(again.status(), 409);
    assert_eq!(rig.core.texts().len(), 1);
}

#[tokio::test]
/// Through a proxy URL (the fake) serenity's limiter is off, so a 429 is
/// the one retry policy's to back off from; the edit still lands.
async fn a_rate_limited_edit_through_a_proxy_is_retried_by_the_one_policy_and_lands() {
    let rig = Rig::start().await;
    rig.api.rate_limit_next.store(1, Ordering::SeqCst);
    json(rig.send(&command(ALICE, "hub status staging")).await).await;
    rig.api
        .wait_for("with the finished run after a 429", |c| {
            c.json()["content"]
                .as_str()
                .unwrap_or("")
                .contains("succeeded")
        })
        .await;
}

#[tokio::test]
async fn register_creates_the_ops_command_and_is_idempotent() {
    let rig = Rig::start().await;
    opsbot::chat::discord::register::register(&rig.settings, None)
        .await
        .unwrap();
    opsbot::chat::discord::register::register(&rig.settings, Some(3333333333333333333))
        .await
        .unwrap();
    let calls = rig.api.calls();
    assert_eq!(calls[0].method, "POST");
    assert_eq!(
        calls[0].path,
        "/api/v10/applications/1111111111111111111/commands"
    );
    assert_eq!(
        calls[1].path,
        "/api/v10/applications/1111111111111111111/guilds/3333333333333333333/commands"
    );
    let body = calls[0].json();
    assert_eq!(body["name"], "ops");
    // `/ops run TEXT` first: the free-text fallback.
    assert_eq!(body["options"][0]["name"], "run");
    assert_eq!(body["options"][0]["type"], 1);
    assert_eq!(body["options"][0]["options"][0]["name"], "command");
    assert_eq!(body["options"][0]["options"][0]["autocomplete"], true);
    // Then the typed subcommands from commands/: `/ops hub status <hub>`.
    let hub = body["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "hub")
        .expect("a hub group");
    assert_eq!(hub["type"], 2);
    let status = hub["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "status")
        .expect("hub status");
    assert_eq!(status["options"][0]["name"], "hub");
    assert_eq!(status["options"][0]["type"], 3);
    assert_eq!(status["options"][0]["required"], true);
    assert!(body["options"].as_array().unwrap().len() <= 25);
    assert_eq!(
        calls[0].json(),
        calls[1].json(),
        "the same definition everywhere"
    );
}

/// `/ops hub status` with its typed `hub` option (as Discord sends a
/// subcommand group) runs the same text as `/ops run hub status staging`.
#[tokio::test]
async fn a_typed_subcommand_runs_the_command_its_options_spell() {
    let rig = Rig::start().await;
    let mut v: Value = serde_json::from_str(&command(ALICE, "")).unwrap();
    v["data"]["options"] = serde_json::json!([{
        "name": "hub", "type": 2,
        "options": [{ "name": "status", "type": 1,
            "options": [{ "name": "hub", "type": 3, "value": "staging" }] }]
    }]);
    let resp = rig.send(&v.to_string()).await;
    assert_eq!(resp.status(), 200);
    json(resp).await;
    assert_eq!(rig.core.texts(), vec!["hub status staging".to_string()]);
    let mut run: Value = serde_json::from_str(&command(ALICE, "")).unwrap();
    run["data"]["options"] = serde_json::json!([{
        "name": "run", "type": 1,
        "options": [{ "name": "command", "type": 3, "value": "users staging" }]
    }]);
    json(rig.send(&run.to_string()).await).await;
    assert_eq!(rig.core.texts()[1], "users staging");
}

/// Autocomplete on a typed hub option offers the core's hub names,
/// also for text whose lower case is longer than itself.
#[tokio::test]
async fn autocomplete_on_a_typed_hub_option_offers_hub_names() {
    let rig = Rig::start().await;
    let ask = |typed: &str| {
        let mut v: Value = serde_json::from_str(&command(ALICE, "")).unwrap();
        v["type"] = serde_json::json!(4);
        v["data"]["options"] = serde_json::json!([{
            "name": "hub", "type": 2,
            "options": [{ "name": "status", "type": 1,
                "options": [{ "name": "hub", "type": 3, "value": typed, "focused": true }] }]
        }]);
        v.to_string()
    };
    let v = json(rig.send(&ask("st")).await).await;
    assert_eq!(v["type"], 8);
    assert_eq!(
        v["data"]["choices"],
        serde_json::json!([{ "name": "staging", "value": "staging" }])
    );
    let v = json(rig.send(&ask("İİ")).await).await;
    assert_eq!(v["data"]["choices"], serde_json::json!([]));
    assert!(
        rig.core.requests.lock().unwrap().is_empty(),
        "typing runs nothing"
    );
}

/// JSON of any shape with the keys Discord's interactions use.
fn any_interaction() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let keys = prop::sample::select(vec![
        "type",
        "id",
        "application_id",
        "token",
        "version",
        "data",
        "name",
        "options",
        "value",
        "focused",
        "member",
        "user",
        "guild_id",
        "channel_id",
        "custom_id",
        "component_type",
        "attachment_size_limit",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0u64..12).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[0-9]{1,20}".prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..7).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

    /// No interaction body panics the decoder, and whatever options it
    /// carries turn into text (or nothing) without a panic.
    #[test]
    fn the_discord_decoder_and_option_reader_never_panic(v in any_interaction()) {
        let body = serde_json::to_vec(&v).unwrap();
        if let Ok(serenity::model::application::Interaction::Command(ci)) =
            opsbot::chat::discord::inbound::parse(&body)
        {
            let _ = opsbot::chat::discord::options::text_of(&ci.data.options, &[]);
        }
    }
}

/// Option trees as Discord sends them (subcommand groups, subcommands,
/// values of every type), names from the shipped commands and beyond.
fn any_options() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let name = prop::sample::select(vec![
        "hub", "status", "restart", "run", "command", "reason", "users", "logs", "tail", "x",
    ]);
    let value = prop_oneof![
        (name.clone(), "\\PC{0,10}")
            .prop_map(|(n, s)| serde_json::json!({"name": n, "type": 3, "value": s})),
        (name.clone(), any::<i64>())
            .prop_map(|(n, i)| serde_json::json!({"name": n, "type": 4, "value": i})),
        (name.clone(), any::<bool>())
            .prop_map(|(n, b)| serde_json::json!({"name": n, "type": 5, "value": b})),
    ];
    let sub = (name.clone(), prop::collection::vec(value.clone(), 0..4))
        .prop_map(|(n, o)| serde_json::json!({"name": n, "type": 1, "options": o}));
    let group = (name, prop::collection::vec(sub.clone(), 0..2))
        .prop_map(|(n, o)| serde_json::json!({"name": n, "type": 2, "options": o}));
    prop::collection::vec(prop_oneof![value, sub, group], 0..3).prop_map(Value::Array)
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

    /// Whatever options arrive, the text they become (if any) is one the
    /// tokenizer reads back: every value stays one word.
    #[test]
    fn typed_options_of_any_shape_read_as_text_the_tokenizer_accepts(options in any_options()) {
        static SPECS: std::sync::OnceLock<opsbot::command::Grammar> = std::sync::OnceLock::new();
        let specs = SPECS.get_or_init(|| {
            opsbot::command::Grammar::load_dir(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands"),
            )
            .unwrap()
        });
        // `/ops run TEXT` hands the person's own text to the parser as
        // typed (a lone quote there is theirs to fix); every typed option
        // must stay one word.
        // (Also the single `command` option of the older registration.)
        let first = &options[0];
        let free_text = (first["name"] == "run" && first["type"] == 1)
            || (first["name"] == "command" && first["type"] == 3);
        if free_text {
            return Ok(());
        }
        if let Ok(options) = serde_json::from_value::<Vec<serenity::model::application::CommandDataOption>>(options) {
            if let Some(text) = opsbot::chat::discord::options::text_of(&options, specs.commands()) {
                let words = opsbot::command::tokenize::tokenize(&text);
                proptest::prop_assert!(words.is_ok(), "{text:?}: {words:?}");
            }
        }
    }
}

/// The interaction's member roles reach the core as the request's
/// memberships (what `discord.roles` maps to opsbot roles).
#[tokio::test]
async fn the_members_guild_roles_travel_with_the_request() {
    let rig = Rig::start().await;
    let mut body: Value = serde_json::from_str(&command(ALICE, "hub status staging")).unwrap();
    body["member"]["roles"] = serde_json::json!(["900000000000000001", "900000000000000002"]);
    let r = rig.send(&body.to_string()).await;
    assert!(r.status().is_success(), "{}", r.status());
    let req = rig.core.requests.lock().unwrap().pop().expect("a request");
    assert_eq!(
        req.memberships,
        ["900000000000000001", "900000000000000002"]
    );
}

/// A user option is completed with the users of the hub chosen beside it
/// (asked of the core, which knows them); without a hub there is nothing
/// to suggest.
#[tokio::test]
async fn autocomplete_on_a_user_option_offers_the_chosen_hubs_users() {
    let rig = Rig::start().await;
    let hub = serde_json::json!([{ "name": "hub", "type": 3, "value": "staging" }]);
    let v = json(
        rig.send(&typed_autocomplete(
            ALICE,
            "user",
            "status",
            hub,
            ("user", "al"),
        ))
        .await,
    )
    .await;
    assert_eq!(v["type"], 8, "{v}");
    assert_eq!(
        v["data"]["choices"],
        serde_json::json!([
            { "name": "alice", "value": "alice" },
            { "name": "albert", "value": "albert" }
        ])
    );
    let none = json(
        rig.send(&typed_autocomplete(
            ALICE,
            "user",
            "status",
            serde_json::json!([]),
            ("user", "al"),
        ))
        .await,
    )
    .await;
    assert_eq!(none["data"]["choices"], serde_json::json!([]));
}

/// A run option is completed with runs as integer choices.
#[tokio::test]
async fn autocomplete_on_a_run_option_offers_runs_as_numbers() {
    let rig = Rig::start().await;
    let v = json(
        rig.send(&typed_autocomplete(
            ALICE,
            "",
            "approve",
            serde_json::json!([]),
            ("run", ""),
        ))
        .await,
    )
    .await;
    assert_eq!(
        v["data"]["choices"],
        serde_json::json!([{
            "name": "#7 hub restart staging (alice, awaiting approval)",
            "value": 7
        }])
    );
}
