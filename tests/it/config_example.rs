//! The documented example config loads, and environment variables switch
//! platforms on without editing it.

use std::collections::HashMap;
use std::path::Path;

use opsbot::config::{ClusterSource, Config, Platform};

fn example() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/opsbot.yaml"))
}

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("HOME".to_string(), "/home/op".to_string())])
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn example_config_loads_with_an_empty_environment() {
    let cfg = Config::load(example(), &env_of(&[])).unwrap_or_else(|e| panic!("{e}"));
    let dir = example().parent().unwrap();
    assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        cfg.audit_url,
        format!("sqlite://{}", dir.join("opsbot.db").display())
    );
    assert_eq!(cfg.commands_dir, dir.join("../commands"));
    assert_eq!(cfg.clusters.len(), 2);
    assert_eq!(
        cfg.clusters[0].source,
        ClusterSource::Kubeconfig {
            path: Some("/home/op/.kube/config".into()),
            context: Some("aws-us".into())
        }
    );
    assert_eq!(cfg.clusters[1].source, ClusterSource::InCluster);
    assert_eq!(cfg.hub("staging").unwrap().cluster, "aws-us");
    assert_eq!(
        cfg.person_by(Platform::Github, "ALICE-GH").unwrap().id,
        "alice"
    );
    assert_eq!(
        cfg.person_by(Platform::Slack, "U0SAM00001").unwrap().id,
        "sam"
    );
    assert_eq!(cfg.roles["staging-admin"].scope.hubs, vec!["staging"]);
    assert_eq!(cfg.policy.approval_ttl.as_secs(), 3600);
    assert!(cfg.slack.is_none() && cfg.github.is_none() && cfg.discord.is_none());
    assert!(cfg.secrets().is_empty());
}

#[test]
fn platform_env_vars_switch_platforms_on_keeping_the_file_settings() {
    let key = "a".repeat(64);
    let env = env_of(&[
        ("SLACK_SIGNING_SECRET", "slack-signing-xyz"),
        ("SLACK_BOT_TOKEN", "xoxb-bot-xyz"),
        ("SLACK_API_URL", "http://127.0.0.1:9999/api/"),
        ("GITHUB_WEBHOOK_SECRET", "gh-hook-xyz"),
        ("GITHUB_TOKEN", "ghp_token_xyz"),
        ("DISCORD_PUBLIC_KEY", &key),
        ("DISCORD_APPLICATION_ID", "42"),
        ("OPSBOT_AUDIT_URL", "sqlite:///tmp/elsewhere.db"),
    ]);
    let cfg = Config::load(example(), &env).unwrap_or_else(|e| panic!("{e}"));
    let slack = cfg.slack.as_ref().expect("slack is on");
    assert_eq!(slack.api_url, "http://127.0.0.1:9999/api");
    assert_eq!(slack.channels["C0SUPPORT1"][0], "hub status");
    let gh = cfg.github.as_ref().expect("github is on");
    assert_eq!(gh.prefix, "/ops");
    assert_eq!(gh.teams["example-org/sre"], vec!["engineer"]);
    let dc = cfg.discord.as_ref().expect("discord is on");
    assert_eq!(dc.application_id, 42);
    assert_eq!(dc.roles["112233445566778899"], vec!["support"]);
    assert_eq!(cfg.audit_url, "sqlite:///tmp/elsewhere.db");

    let secrets = cfg.secrets();
    for s in [
        "slack-signing-xyz",
        "xoxb-bot-xyz",
        "gh-hook-xyz",
        "ghp_token_xyz",
    ] {
        assert!(
            secrets.iter().any(|x| x == s),
            "{s} missing from {secrets:?}"
        );
        assert!(!format!("{cfg:?}").contains(s), "{s} leaked into Debug");
        assert!(
            !cfg.to_yaml_redacted().contains(s),
            "{s} leaked into to_yaml_redacted"
        );
    }
    assert!(cfg.to_yaml_redacted().contains("<redacted>"));
}

#[test]
fn command_patterns_list_every_pattern_with_its_position() {
    let cfg = Config::load(example(), &env_of(&[])).unwrap();
    let pats = cfg.command_patterns();
    let restart: Vec<_> = pats.iter().filter(|p| p.0 == "hub restart").collect();
    assert_eq!(restart.len(), 2, "{pats:?}");
    assert!(restart
        .iter()
        .all(|p| p.1.ends_with("opsbot.yaml") && p.2 > 0 && p.3 > 0));
    assert!(pats.iter().any(|p| p.0 == "user stop"));
    assert!(pats.iter().any(|p| p.0 == "runs"));
    // Slack channel restrictions are patterns too, even with Slack off.
    assert!(pats.iter().filter(|p| p.0 == "hub status").count() >= 2);
}

#[test]
fn redacted_yaml_lists_people_and_hubs() {
    let cfg = Config::load(example(), &env_of(&[])).unwrap();
    let v: serde_yaml::Value = serde_yaml::from_str(&cfg.to_yaml_redacted()).unwrap();
    let people = v["people"].as_sequence().unwrap();
    assert_eq!(people[0]["id"], "alice");
    assert_eq!(people[0]["slack"], "U012ABCDEF");
    assert_eq!(people[0]["roles"][0], "engineer");
    let hubs = v["hubs"].as_sequence().unwrap();
    assert_eq!(hubs[0]["name"], "staging");
    assert_eq!(hubs[0]["cluster"], "aws-us");
    assert_eq!(hubs[0]["namespace"], "staging");
}
