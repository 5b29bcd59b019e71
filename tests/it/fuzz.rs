//! No panic on any input (issues 16 and 17): property tests over everything
//! that parses what the network or a person sends. Each decoder gets
//! arbitrary bytes, and the platform payloads also get their real fixtures
//! with one leaf replaced by an arbitrary value (the near-miss payloads that
//! reach the deep code). The property is that the decoder returns, Ok or Err;
//! where it returns an error, the error renders. Case counts keep the whole
//! file to a few seconds on the CI machine.

use opsbot::command::{Grammar, Names};
use opsbot::jupyterhub::diagnose::{bytes, cpu_millis};
use opsbot::jupyterhub::username::{escape_username, safe_slug, SlugKind, Username};
use opsbot::playbook::template;
use proptest::prelude::*;
use serde_json::Value;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON: scalars of every type (strings with any code point),
/// nested arrays and objects.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::String),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer to a leaf or container of `v` (the root excluded).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

/// `fixture` with the node at one of its pointers replaced by `with`.
fn mutated(fixture: &Value, pick: usize, with: Value) -> Value {
    let mut all = Vec::new();
    pointers(fixture, String::new(), &mut all);
    let mut v = fixture.clone();
    if let Some(p) = all.get(pick % all.len().max(1)) {
        if let Some(slot) = v.pointer_mut(p) {
            *slot = with;
        }
    }
    v
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON fixture")
}

struct Fleet;

impl Names for Fleet {
    fn hubs(&self) -> Vec<String> {
        ["staging", "prod", "c1/hub03", "c2/hub03"]
            .map(String::from)
            .to_vec()
    }
    fn clusters(&self) -> Vec<String> {
        ["aws-us", "c1", "c2"].map(String::from).to_vec()
    }
}

fn grammar() -> &'static Grammar {
    static G: std::sync::OnceLock<Grammar> = std::sync::OnceLock::new();
    G.get_or_init(|| {
        Grammar::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands"))
            .unwrap_or_else(|d| panic!("{d:?}"))
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn slack_payload_decoders_return_on_any_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        use opsbot::chat::slack::inbound::*;
        let _ = parse_slash_command_form(&body).map_err(|e| e.to_string());
        let _ = parse_event(&body).map_err(|e| e.to_string());
        let _ = parse_interaction_form(&body).map_err(|e| e.to_string());
    }

    #[test]
    fn slack_payloads_one_leaf_off_their_fixture_decode_or_are_refused(
        pick in any::<usize>(), with in json(), which in 0..3usize,
    ) {
        use opsbot::chat::slack::inbound::*;
        let fixtures = [
            include_str!("fixtures/slack/event_app_mention.json"),
            include_str!("fixtures/slack/block_actions.json"),
            include_str!("fixtures/slack/url_verification.json"),
        ];
        let v = mutated(&fixture(fixtures[which]), pick, with);
        let _ = parse_event_json(v.clone()).map_err(|e| e.to_string());
        let _ = parse_interaction_json(v.clone()).map_err(|e| e.to_string());
        let _ = parse_slash_command_json(v).map_err(|e| e.to_string());
    }

    #[test]
    fn slack_form_fields_with_any_text_decode_or_are_refused(
        text in "\\PC{0,80}", user in "\\PC{0,12}", trigger in "\\PC{0,20}",
    ) {
        let form = serde_urlencoded::to_string([
            ("user_id", user.as_str()), ("channel_id", "C1"), ("command", "/ops"),
            ("text", text.as_str()), ("trigger_id", trigger.as_str()),
        ]).unwrap();
        let _ = opsbot::chat::slack::inbound::parse_slash_command_form(form.as_bytes());
    }

    #[test]
    fn github_webhook_decoder_returns_on_any_bytes(
        body in prop::collection::vec(any::<u8>(), 0..512), event in "[a-z_]{0,30}",
    ) {
        let _ = opsbot::chat::github::inbound::parse(&event, &body);
        let _ = opsbot::chat::github::inbound::parse("issue_comment", &body);
    }

    #[test]
    fn github_payloads_one_leaf_off_their_fixture_decode_or_are_refused(
        pick in any::<usize>(), with in json(), which in 0..3usize,
    ) {
        let fixtures = [
            ("issue_comment", include_str!("fixtures/github/issue_comment.created.0.json")),
            ("issue_comment", include_str!("fixtures/github/issue_comment.edited.7.json")),
            ("ping", include_str!("fixtures/github/ping.event.0.json")),
        ];
        let (event, text) = fixtures[which];
        let body = mutated(&fixture(text), pick, with).to_string();
        let _ = opsbot::chat::github::inbound::parse(event, body.as_bytes());
        let _ = opsbot::chat::github::inbound::parse("pull_request_review_comment", body.as_bytes());
    }

    #[test]
    fn github_comment_bodies_split_into_command_lines_without_panicking(body in "\\PC{0,400}") {
        for line in opsbot::chat::github::lines::commands(&body, "/ops") {
            prop_assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn discord_interaction_decoder_returns_on_any_input(
        body in prop::collection::vec(any::<u8>(), 0..512), pick in any::<usize>(), with in json(),
    ) {
        let _ = opsbot::chat::discord::inbound::parse(&body);
        let v = mutated(&fixture(include_str!("fixtures/discord/application_command.json")), pick, with);
        let _ = opsbot::chat::discord::inbound::parse(v.to_string().as_bytes());
    }

    #[test]
    fn the_grammar_answers_any_command_line(text in "\\PC{0,120}") {
        if let Err(e) = grammar().parse(&text, &Fleet) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn the_grammar_answers_near_miss_command_lines(
        words in prop::collection::vec(prop_oneof![
            Just("hub".to_string()), Just("status".to_string()), Just("restart".to_string()),
            Just("user".to_string()), Just("pending".to_string()), Just("all".to_string()),
            Just("--reason".to_string()), Just("--older".to_string()), Just("c1/hub03".to_string()),
            Just("hub03".to_string()), Just("approve".to_string()), Just("\"".to_string()),
            "\\PC{0,10}",
        ], 0..7),
    ) {
        let _ = grammar().parse(&words.join(" "), &Fleet);
    }

    #[test]
    fn templates_render_or_fail_with_a_message_on_any_source(src in "\\PC{0,80}", pick in "[{}%#|a-z .()]{0,40}") {
        let ctx = minijinja::Value::from_serialize(serde_json::json!({
            "hub": {"name": "staging", "url": "http://h"}, "user": {"name": "a/.."}, "steps": {},
        }));
        for s in [src, format!("{{{{ {pick} }}}}"), format!("{{% {pick} %}}")] {
            let _ = template::render_text(&s, &ctx);
            let _ = template::eval(&s, &ctx);
            let _ = template::references(&s, false);
        }
    }

    #[test]
    fn quantities_parse_or_are_none_on_any_text(q in "\\PC{0,24}", n in "[0-9.eEkKMGTPi+-]{0,16}") {
        for s in [q, n] {
            let _ = cpu_millis(&s);
            let _ = bytes(&s);
        }
    }

    #[test]
    fn selectors_parse_or_are_refused_and_match_any_object(s in "\\PC{0,60}", t in "[a-z=!,() .in/-]{0,40}", obj in json()) {
        for text in [s, t] {
            if let Ok(sel) = opsbot_sim::selector::LabelSelector::parse(&text) {
                let _ = sel.matches(&obj);
            }
            if let Ok(sel) = opsbot_sim::selector::FieldSelector::parse(&text) {
                let _ = sel.matches(&obj);
            }
        }
    }

    #[test]
    fn names_are_checked_and_slugged_without_panicking(name in "\\PC{0,80}") {
        if let Ok(u) = Username::new(&name) {
            for c in u.candidates() {
                prop_assert!(!c.is_empty());
            }
        }
        let _ = escape_username(&name);
        let object = safe_slug(&name, SlugKind::Object);
        prop_assert!(object.len() <= 63, "{object}");
        let _ = safe_slug(&name, SlugKind::Label);
        if let Ok(seg) = opsbot::urlpath::segment(&name) {
            prop_assert!(!seg.contains('/') && seg != "." && seg != "..");
        }
    }
}
