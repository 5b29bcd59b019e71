use std::path::Path;

use proptest::prelude::*;

use super::*;

struct Fleet;

impl Names for Fleet {
    fn hubs(&self) -> Vec<String> {
        vec!["staging".into(), "prod".into()]
    }
    fn clusters(&self) -> Vec<String> {
        vec!["aws-us".into(), "gcp-eu".into()]
    }
}

fn shipped() -> Grammar {
    Grammar::load_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/commands")))
        .expect("shipped commands load")
}

fn usage_message(e: ParseError) -> String {
    e.to_string()
}

#[test]
fn shipped_commands_load_and_every_example_parses() {
    let g = shipped();
    assert!(g.get("hub status").is_some() && g.get("help").is_some());
    for c in g.commands() {
        for ex in &c.examples {
            let inv = g
                .parse(ex, &NoNames)
                .unwrap_or_else(|e| panic!("{ex}: {e}"));
            assert_eq!(inv.command, c.name, "{ex}");
        }
    }
}

#[test]
fn literal_words_win_over_placeholders() {
    let g = shipped();
    let inv = g
        .parse("hub restart staging --reason config change", &Fleet)
        .unwrap();
    assert_eq!(inv.command, "hub restart");
    assert_eq!(inv.args["reason"], Value::Text("config change".into()));
    assert_eq!(inv.args["hub"], Value::Hub("staging".into()));
}

#[test]
fn options_switches_and_defaults_are_typed() {
    let g = shipped();
    let inv = g
        .parse("logs staging hub --tail=20 --previous", &Fleet)
        .unwrap();
    assert_eq!(inv.args["tail"], Value::Int(20));
    assert_eq!(inv.args["previous"], Value::Bool(true));
    let inv = g.parse("logs staging proxy", &Fleet).unwrap();
    assert_eq!(inv.args["tail"], Value::Int(50), "default");
    assert_eq!(inv.args["previous"], Value::Bool(false));
    let inv = g.parse("events staging --since 30m", &Fleet).unwrap();
    assert_eq!(
        inv.args["since"],
        Value::Duration(std::time::Duration::from_secs(1800))
    );
    assert_eq!(inv.args_json()["since"], "30m");
}

#[test]
fn users_are_escaped_like_kubespawner() {
    let g = shipped();
    let inv = g.parse("user status staging bob.jones", &Fleet).unwrap();
    assert_eq!(
        inv.args_json()["user"],
        serde_json::json!({ "name": "bob.jones", "escaped": "bob-2ejones", "pod": "jupyter-bob-2ejones", "server": "", "input": "bob.jones" })
    );
}

#[test]
fn unknown_command_suggests_the_near_one() {
    let e = shipped().parse("hub stauts staging", &Fleet).unwrap_err();
    insta::assert_snapshot!(e.to_string(), @"I don't know the command `hub stauts`. Did you mean `hub status`? (`help hub status` shows how to use it)");
}

#[test]
fn unknown_hub_names_the_near_one_and_the_known_ones() {
    let e = shipped().parse("hub status stagin", &Fleet).unwrap_err();
    insta::assert_snapshot!(usage_message(e), @r"
    <hub>: unknown hub `stagin`. Did you mean `staging`? Known hubs: prod, staging.
    Usage: `hub status <hub>`
    Example: `hub status staging`
    ");
}

#[test]
fn missing_and_extra_arguments_show_the_usage() {
    let g = shipped();
    let e = g.parse("hub restart staging", &Fleet).unwrap_err();
    assert_eq!(e.command(), Some("hub restart"));
    assert!(
        e.to_string().starts_with("missing `--reason <text>`."),
        "{e}"
    );
    let e = g.parse("users staging extra", &Fleet).unwrap_err();
    assert!(e.to_string().contains("unexpected `extra`"), "{e}");
    let e = g.parse("logs staging hub --tial 5", &Fleet).unwrap_err();
    assert!(e.to_string().contains("Did you mean `--tail`?"), "{e}");
    let e = g.parse("logs staging hub --tail many", &Fleet).unwrap_err();
    assert!(e.to_string().contains("not a whole number"), "{e}");
    let e = g.parse("logs staging db", &Fleet).unwrap_err();
    assert!(e.to_string().contains("expected form"), "{e}");
}

#[test]
fn quotes_group_and_unbalanced_quotes_are_explained() {
    let g = shipped();
    let inv = g
        .parse("hub restart staging --reason 'stuck \"spawner\"'", &Fleet)
        .unwrap();
    assert_eq!(inv.args["reason"], Value::Text("stuck \"spawner\"".into()));
    let e = g
        .parse("hub restart staging --reason 'oops", &Fleet)
        .unwrap_err();
    assert!(matches!(e, ParseError::Syntax(_)), "{e}");
}

#[test]
fn empty_input_says_what_to_type() {
    assert_eq!(
        shipped().parse("   ", &Fleet).unwrap_err(),
        ParseError::Empty
    );
}

#[test]
fn load_errors_name_file_line_and_column() {
    let text = "- command: hub status <hub>\n  summary: x\n  playbook: hub-status\n  args:\n    hub: { type: hubb }\n- command: hub status <hub>\n  summary: again\n  playbook: hub-status\n- command: broken [--tail <n>\n  summary: y\n  playbook: logs\n";
    let d = Grammar::from_str("commands/x.yaml", text).unwrap_err();
    let all = d.to_string();
    assert!(
        all.contains("commands/x.yaml:5:18: unknown type `hubb`"),
        "{all}"
    );
    assert!(all.contains("Did you mean `hub`?"), "{all}");
    assert!(all.contains("commands/x.yaml:9:"), "{all}");
}

#[test]
fn duplicate_commands_are_refused() {
    let text = "- command: users <hub>\n  summary: a\n  playbook: users\n- command: users <cluster>\n  summary: b\n  playbook: users\n";
    let d = Grammar::from_str("c.yaml", text).unwrap_err().to_string();
    assert!(d.contains("`users` is already defined at c.yaml:1"), "{d}");
}

#[test]
fn an_example_that_does_not_parse_is_a_load_error() {
    let text = "- command: users <hub>\n  summary: a\n  playbook: users\n  examples: [\"users\"]\n";
    let d = Grammar::from_str("c.yaml", text).unwrap_err().to_string();
    assert!(
        d.contains("c.yaml:4:") && d.contains("does not parse"),
        "{d}"
    );
}

#[test]
fn a_default_must_fit_its_type() {
    let text = "- command: runs [--limit <n>]\n  summary: a\n  builtin: runs\n  args:\n    n: { type: int, default: lots }\n";
    let d = Grammar::from_str("c.yaml", text).unwrap_err().to_string();
    assert!(
        d.contains("c.yaml:5:") && d.contains("default `lots`"),
        "{d}"
    );
}

#[test]
fn neither_playbook_nor_builtin_is_an_error() {
    let d = Grammar::from_str("c.yaml", "- command: users <hub>\n  summary: a\n")
        .unwrap_err()
        .to_string();
    assert!(d.contains("needs `playbook: NAME`"), "{d}");
}

proptest! {
    #[test]
    fn the_parser_never_panics(s in "\\PC{0,60}") {
        let _ = shipped().parse(&s, &Fleet);
    }

    #[test]
    fn accepted_commands_round_trip_through_their_text(
        reason in "[a-z][a-z ]{0,30}[a-z]",
        tail in 1i64..5000,
        // `.` and `..` are refused as usernames (they would rewrite the hub API path).
        user in "[a-zA-Z0-9.@_-]{1,20}".prop_filter("not a dot name", |u| u != "." && u != ".."),
        previous in any::<bool>(),
    ) {
        let g = shipped();
        for line in [
            format!("hub restart staging --reason {reason}"),
            format!("logs prod hub --tail {tail}{}", if previous { " --previous" } else { "" }),
            format!("triage staging '{user}'"),
        ] {
            let inv = g.parse(&line, &Fleet).unwrap();
            let spec = g.get(&inv.command).unwrap();
            let again = g.parse(&inv.to_text(spec), &Fleet).unwrap();
            prop_assert_eq!(again, inv);
        }
    }
}

/// Names as a discovered fleet has them: `hub03` on two clusters.
struct SharedNames;

impl Names for SharedNames {
    fn hubs(&self) -> Vec<String> {
        vec!["c00/hub03".into(), "c03/hub03".into(), "staging".into()]
    }
    fn clusters(&self) -> Vec<String> {
        vec!["c00".into(), "c03".into()]
    }
}

#[test]
fn a_qualified_hub_parses_and_a_shared_bare_name_is_refused_with_the_choices() {
    let g = shipped();
    let inv = g.parse("hub status c03/hub03", &SharedNames).unwrap();
    assert_eq!(inv.args_json()["hub"], "c03/hub03");
    let e = g.parse("hub status hub03", &SharedNames).unwrap_err();
    assert!(
        e.to_string()
            .contains("`hub03` is the name of 2 hubs: write one of c00/hub03, c03/hub03"),
        "{e}"
    );
    let e = g.parse("hub status hub3", &SharedNames).unwrap_err();
    assert!(
        e.to_string()
            .contains("Did you mean one of c00/hub03, c03/hub03?"),
        "{e}"
    );
    assert!(g.parse("hub status c03/../x", &SharedNames).is_err());
}
