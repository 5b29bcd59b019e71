//! Permission decisions over the example config: who may run and approve
//! what, where, and the reasons people see when they may not.
//!
//! Example people: alice and dave are `engineer` (run and approve anything);
//! sam is `support` (read-only commands on any hub); stella is `support` and
//! `staging-admin` (may run and approve `hub restart` on hub staging only).

use std::path::Path;

use opsbot::authz::{can_approve, decide, pattern_matches, visible_commands, Decision, Target};
use opsbot::config::{Config, Person};

fn cfg() -> Config {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/opsbot.yaml"));
    Config::load(path, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

fn who<'a>(cfg: &'a Config, id: &str) -> &'a Person {
    cfg.person(id).unwrap()
}

fn deny_reason(d: Decision) -> (String, Vec<String>) {
    match d {
        Decision::Deny { reason, who_can } => (reason, who_can),
        other => panic!("expected Deny, got {other:?}"),
    }
}

#[test]
fn patterns_match_exact_names_prefixes_and_everything() {
    assert!(pattern_matches("hub restart", "hub restart"));
    assert!(pattern_matches("hub  restart", " hub restart"));
    assert!(!pattern_matches("hub restart", "hub status"));
    assert!(pattern_matches("hub *", "hub restart"));
    assert!(pattern_matches("hub *", "hub"));
    assert!(!pattern_matches("hub *", "hubs"));
    assert!(!pattern_matches("hub *", "user stop"));
    assert!(pattern_matches("*", "anything at all"));
    assert!(!pattern_matches("", "help"));
}

#[test]
fn a_read_only_command_in_the_role_is_allowed() {
    let c = cfg();
    let d = decide(
        &c,
        who(&c, "sam"),
        "hub status",
        &Target::hub("prod"),
        false,
        0,
    );
    assert_eq!(d, Decision::Allow);
}

#[test]
fn a_command_outside_the_roles_is_denied_naming_who_can_run_it() {
    let c = cfg();
    let (reason, who_can) = deny_reason(decide(
        &c,
        who(&c, "sam"),
        "hub restart",
        &Target::hub("prod"),
        true,
        1,
    ));
    assert_eq!(
        reason,
        "your roles (support) may not run `hub restart`; engineer can: alice, dave"
    );
    assert_eq!(who_can, vec!["alice", "dave"]);
}

#[test]
fn a_scoped_role_is_denied_outside_its_scope_with_what_it_covers() {
    let c = cfg();
    let (reason, _) = deny_reason(decide(
        &c,
        who(&c, "stella"),
        "hub restart",
        &Target::hub("prod"),
        true,
        1,
    ));
    assert!(
        reason.starts_with("your role staging-admin covers hub staging only, not hub prod; "),
        "{reason}"
    );
    // A hub-scoped role does not cover a cluster-wide command either.
    let d = decide(
        &c,
        who(&c, "stella"),
        "hub restart",
        &Target::cluster("aws-us"),
        false,
        0,
    );
    assert!(!d.is_permitted(), "{d:?}");
}

#[test]
fn a_scoped_role_inside_its_scope_needs_approval_from_someone_else() {
    let c = cfg();
    let d = decide(
        &c,
        who(&c, "stella"),
        "hub restart",
        &Target::hub("staging"),
        true,
        1,
    );
    assert_eq!(
        d,
        Decision::NeedsApproval {
            approvers: 1,
            approvers_who_can: vec!["alice".into(), "dave".into()]
        }
    );
}

#[test]
fn a_mutating_command_needs_approval_even_when_the_playbook_says_zero() {
    let c = cfg();
    let d = decide(
        &c,
        who(&c, "alice"),
        "hub restart",
        &Target::hub("prod"),
        true,
        0,
    );
    assert_eq!(
        d,
        Decision::NeedsApproval {
            approvers: 1,
            approvers_who_can: vec!["dave".into()]
        }
    );
}

#[test]
fn policy_exemptions_skip_approval() {
    let c = cfg();
    let d = decide(
        &c,
        who(&c, "alice"),
        "user stop",
        &Target::hub("prod"),
        true,
        1,
    );
    assert_eq!(d, Decision::Allow);
}

#[test]
fn more_approvers_than_exist_is_a_deny_that_says_so() {
    let c = cfg();
    let (reason, _) = deny_reason(decide(
        &c,
        who(&c, "alice"),
        "hub restart",
        &Target::hub("prod"),
        true,
        2,
    ));
    assert!(
        reason.contains("needs approval by 2 other people, but only dave may approve it there"),
        "{reason}"
    );
}

#[test]
fn always_allowed_builtins_need_no_role_but_do_not_cover_mutations() {
    let c = cfg();
    let nobody = Person {
        id: "newbie".into(),
        ..Person::default()
    };
    assert_eq!(
        decide(&c, &nobody, "runs", &Target::default(), false, 0),
        Decision::Allow
    );
    let (reason, _) = deny_reason(decide(&c, &nobody, "runs", &Target::default(), true, 1));
    assert!(
        reason.starts_with("you have no roles, so you may not run `runs`"),
        "{reason}"
    );
}

#[test]
fn self_approval_is_refused() {
    let c = cfg();
    let err = can_approve(
        &c,
        who(&c, "alice"),
        "alice",
        "hub restart",
        &Target::hub("prod"),
    )
    .unwrap_err();
    assert!(
        err.starts_with("you asked for this run, so someone else has to approve it; "),
        "{err}"
    );
    assert!(err.contains("engineer can: dave"), "{err}");
}

#[test]
fn approving_needs_the_approve_right_in_that_scope() {
    let c = cfg();
    let staging = Target::hub("staging");
    assert_eq!(
        can_approve(&c, who(&c, "dave"), "alice", "hub restart", &staging),
        Ok(())
    );
    assert_eq!(
        can_approve(&c, who(&c, "stella"), "alice", "hub restart", &staging),
        Ok(())
    );
    let err = can_approve(
        &c,
        who(&c, "stella"),
        "alice",
        "hub restart",
        &Target::hub("prod"),
    )
    .unwrap_err();
    assert!(
        err.starts_with("your role staging-admin covers hub staging only, not hub prod"),
        "{err}"
    );
    let err = can_approve(&c, who(&c, "sam"), "alice", "hub restart", &staging).unwrap_err();
    assert!(
        err.starts_with("your roles (support) may not approve `hub restart`; "),
        "{err}"
    );
}

#[test]
fn help_lists_every_command_with_its_decision() {
    let c = cfg();
    let cmds = ["help", "hub status", "hub restart", "user stop"];
    let seen = visible_commands(&c, who(&c, "sam"), cmds.iter().copied());
    let allowed: Vec<&str> = seen
        .iter()
        .filter(|(_, d)| d.is_permitted())
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(allowed, vec!["help", "hub status"]);
    // A scoped role sees its command as available (it can run it somewhere).
    let seen = visible_commands(&c, who(&c, "stella"), cmds.iter().copied());
    assert!(seen
        .iter()
        .any(|(c, d)| *c == "hub restart" && d.is_permitted()));
}

#[test]
fn restricted_slack_channels_allow_only_their_patterns() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/opsbot.yaml"));
    let c = Config::load(path, &|k| {
        (k == "SLACK_SIGNING_SECRET").then(|| "s".to_string())
    })
    .unwrap();
    assert_eq!(
        opsbot::authz::channel_allows(&c, Some("C0SUPPORT1"), "hub status"),
        Ok(())
    );
    let err = opsbot::authz::channel_allows(&c, Some("C0SUPPORT1"), "hub restart").unwrap_err();
    assert!(
        err.starts_with(
            "`hub restart` is not run in this channel; here you may use: hub status, users"
        ),
        "{err}"
    );
    assert_eq!(
        opsbot::authz::channel_allows(&c, Some("C0OTHER"), "hub restart"),
        Ok(())
    );
}

#[test]
fn a_request_without_a_channel_fails_closed_where_channels_are_limited() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/opsbot.yaml"));
    let limited = Config::load(path, &|k| {
        (k == "SLACK_SIGNING_SECRET").then(|| "s".to_string())
    })
    .unwrap();
    let err = opsbot::authz::channel_allows(&limited, None, "hub status").unwrap_err();
    assert!(err.contains("without its channel"), "{err}");
    // Where no channel is limited, a missing channel limits nothing.
    assert_eq!(
        opsbot::authz::channel_allows(&cfg(), None, "hub restart"),
        Ok(())
    );
}

#[test]
fn roles_granted_by_a_platform_count_like_configured_ones() {
    let c = cfg();
    let sam = who(&c, "sam").with_extra_roles(["engineer", "support"]);
    assert_eq!(sam.roles, vec!["support", "engineer"]);
    let d = decide(&c, &sam, "hub restart", &Target::hub("prod"), true, 1);
    assert!(matches!(d, Decision::NeedsApproval { .. }), "{d:?}");
}

#[test]
fn github_teams_and_discord_roles_map_to_opsbot_roles() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/opsbot.yaml"));
    let key = "ab".repeat(32);
    let env = |k: &str| match k {
        "GITHUB_WEBHOOK_SECRET" | "GITHUB_TOKEN" => Some("x".to_string()),
        "DISCORD_PUBLIC_KEY" => Some(key.clone()),
        "DISCORD_APPLICATION_ID" => Some("1".to_string()),
        _ => None,
    };
    let c = Config::load(path, &env).unwrap_or_else(|e| panic!("{e}"));
    let gh = c.github.as_ref().unwrap();
    assert_eq!(
        gh.roles_for_teams(&["Example-Org/SRE".into()]),
        vec!["engineer"]
    );
    assert!(gh.roles_for_teams(&["example-org/web".into()]).is_empty());
    let dc = c.discord.as_ref().unwrap();
    assert_eq!(
        dc.roles_for_role_ids(&["112233445566778899".into()]),
        vec!["support"]
    );
}
