//! Issue 17 "Trust" through the binary: `opsbot run` against `opsbot sim` in
//! its own process, with the bot on its own narrower Kubernetes user and
//! people mapped to cluster users narrower still, so the cluster's RBAC for
//! the person is what decides.

use crate::support::binary::{hub_seed, opsbot_run, output_text, SimProcess};

/// One cluster, two hubs. The bot (`opsbot-bot`) may read everything and
/// impersonate; alice's Kubernetes user may read only namespace `staging`.
const SIM_YAML: &str = r#"
users:
  - name: opsbot-bot
    token: bot-token
    impersonate: true
    rules:
      - { verbs: [get, list, watch], resources: ["*"], namespaces: ["*"] }
  - name: alice@example.org
    rules:
      - { verbs: [get, list, watch], resources: [deployments, pods, events], namespaces: [staging] }
"#;

/// The sim with hubs staging, prod and class on aws-us, and an opsbot
/// config whose bot reads as `opsbot-bot` (gcp-eu: a second name for the
/// same server, with no hubs), with `people_and_roles` as given.
fn start(people_and_roles: &str) -> (SimProcess, std::path::PathBuf) {
    let staging = hub_seed("staging");
    let prod = hub_seed("prod");
    let class = hub_seed("class");
    let sim = SimProcess::start(&[
        ("aws-us/sim.yaml", SIM_YAML),
        ("aws-us/10-staging.yaml", &staging),
        ("aws-us/20-prod.yaml", &prod),
        ("aws-us/30-class.yaml", &class),
    ]);
    let kubeconfig = sim.kubeconfig_with_token("bot-token");
    let config = sim.write_config(&format!(
        r#"
clusters:
  - {{ name: aws-us, kubeconfig: "{kc}", context: aws-us }}
  - {{ name: gcp-eu, kubeconfig: "{kc}", context: aws-us }}
hubs:
  - {{ name: staging, cluster: aws-us, namespace: staging }}
  - {{ name: prod, cluster: aws-us, namespace: prod }}
  - {{ name: class, cluster: aws-us, namespace: class }}
{people_and_roles}
"#,
        kc = kubeconfig.display()
    ));
    (sim, config)
}

const ALICE_ENGINEER: &str = r#"
people:
  - { id: alice, kube_user: alice@example.org, roles: [engineer] }
roles:
  engineer: { run: ["*"], approve: ["*"] }
"#;

#[test]
fn a_person_with_a_kube_user_reads_what_that_user_may_and_is_refused_the_rest_in_plain_words() {
    let (_sim, config) = start(ALICE_ENGINEER);
    let ok = opsbot_run(&config, "alice", "hub status staging");
    let text = output_text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(text.contains("Hub staging"), "{text}");
    assert!(
        !text.contains("cannot impersonate") && !text.contains("ClusterSet"),
        "{text}"
    );

    let refused = opsbot_run(&config, "alice", "hub status prod");
    let text = output_text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(text.contains("Forbidden"), "the cluster's refusal: {text}");
    assert!(
        text.contains("alice@example.org") && text.contains("prod"),
        "names who was refused where: {text}"
    );
    assert!(!text.contains("ClusterSet"), "no internal names: {text}");
}

const SCOPED: &str = r#"
people:
  - { id: stella, roles: [staging-reader] }
  - { id: una, roles: [nowhere-reader] }
roles:
  staging-reader: { run: ["pending all", "fleet status"], scope: { hubs: [staging] } }
  nowhere-reader: { run: ["pending all"], scope: { clusters: [gcp-eu] } }
"#;

#[test]
fn a_fleet_wide_command_reads_only_the_hubs_the_askers_roles_cover_and_says_how_many_were_left_out()
{
    let (_sim, config) = start(SCOPED);
    let out = opsbot_run(&config, "stella", "pending all");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("across 1 hub"), "only staging: {text}");
    assert!(
        text.contains("2 hubs outside your roles were left out"),
        "{text}"
    );

    let none = opsbot_run(&config, "una", "pending all");
    let text = output_text(&none);
    assert_eq!(none.status.code(), Some(1), "{text}");
    assert!(
        text.contains("none of the 3 hubs is within your roles"),
        "refused when no hub is covered: {text}"
    );
}

const ENGINEER_AND_SCOPED: &str = r#"
people:
  - { id: alice, roles: [engineer] }
  - { id: stella, roles: [staging-reader] }
roles:
  engineer: { run: ["*"], approve: ["*"] }
  staging-reader: { run: ["hub status", "pending all"], scope: { hubs: [staging] } }
"#;

#[test]
fn runs_and_audit_show_a_scoped_person_only_their_runs_and_runs_on_hubs_their_roles_cover() {
    let (_sim, config) = start(ENGINEER_AND_SCOPED);
    for text in ["hub status prod", "hub status staging"] {
        let out = opsbot_run(&config, "alice", text);
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    }
    let own = opsbot_run(&config, "stella", "hub status staging");
    assert_eq!(own.status.code(), Some(0), "{}", output_text(&own));

    let list = output_text(&opsbot_run(&config, "stella", "runs"));
    assert!(list.contains("hub status staging"), "{list}");
    assert!(
        !list.contains("hub status prod"),
        "alice's prod run is hidden: {list}"
    );

    let prod_story = opsbot_run(&config, "stella", "audit 1");
    let text = output_text(&prod_story);
    assert_eq!(prod_story.status.code(), Some(1), "{text}");
    assert!(text.contains("run 1 is outside your roles"), "{text}");
    assert!(!text.contains("asked `hub status prod`"), "{text}");

    let staging_story = output_text(&opsbot_run(&config, "stella", "audit 2"));
    assert!(
        staging_story.contains("asked `hub status staging`"),
        "{staging_story}"
    );

    let everything = output_text(&opsbot_run(&config, "alice", "runs"));
    assert!(everything.contains("hub status prod"), "{everything}");
}

/// A signed Slack slash command captured and sent again (within Slack's
/// five-minute signature window, so the signature still verifies) is
/// recognised by its `trigger_id` and not run a second time: through
/// `opsbot serve` on the simulator, counted in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_slack_slash_command_runs_once() {
    use crate::support::server::Server;
    use crate::support::slack::{self, FakeSlack};
    let fake = FakeSlack::start().await;
    let (_sim, config) = start(&format!(
        r#"
people:
  - {{ id: alice, slack: U0ALICE, roles: [engineer] }}
roles:
  engineer: {{ run: ["*"], approve: ["*"] }}
slack: {{ api_url: "{}" }}
listen: 127.0.0.1:0
"#,
        fake.api_url()
    ));
    let cfg = config.clone();
    let server = tokio::task::spawn_blocking(move || {
        Server::start(
            &cfg,
            &[
                ("SLACK_SIGNING_SECRET", slack::SIGNING_SECRET),
                ("SLACK_BOT_TOKEN", "xoxb-test"),
            ],
        )
    })
    .await
    .unwrap();
    let body = slack::slash_form("U0ALICE", "C0OPS", "hub status staging").into_bytes();
    let ts = slack::now();
    let signature = slack::sign(slack::SIGNING_SECRET, ts, &body);
    let http = reqwest::Client::new();
    let send = || {
        http.post(format!("http://127.0.0.1:{}/slack/commands", server.port))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature.clone())
            .body(body.clone())
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let replay = send().await.unwrap();
    assert_eq!(
        replay.status(),
        200,
        "a replay is acknowledged, not an error"
    );
    fake.wait_until("the run's thread ends with its audit reference", |f| {
        f.messages().iter().any(|m| m.all_text().contains("run 1"))
    })
    .await;
    let url = format!("sqlite://{}", config.with_file_name("audit.db").display());
    let log = opsbot::audit::AuditLog::open(&url).await.unwrap();
    let runs = log.list(&opsbot::audit::Filter::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "the replay ran nothing: {runs:#?}");
}

/// `hubs` and `clusters` list the part of the fleet the asker's roles
/// cover, and say how much was left out; an unscoped role sees it all.
#[test]
fn hubs_and_clusters_list_only_what_the_askers_roles_cover() {
    let (_sim, config) = start(ENGINEER_AND_SCOPED);
    let out = opsbot_run(&config, "stella", "hubs");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 hubs") || text.contains("1 hub"), "{text}");
    assert!(text.contains("staging"), "{text}");
    assert!(!text.contains("prod") && !text.contains("class"), "{text}");
    assert!(
        text.contains("2 hubs outside your roles are not listed"),
        "{text}"
    );
    let out = opsbot_run(&config, "stella", "clusters");
    let text = output_text(&out);
    assert!(
        text.contains("aws-us") && !text.contains("gcp-eu"),
        "{text}"
    );
    assert!(
        text.contains("1 cluster outside your roles is not listed"),
        "{text}"
    );
    let all = output_text(&opsbot_run(&config, "alice", "hubs"));
    for hub in ["staging", "prod", "class"] {
        assert!(all.contains(hub), "{all}");
    }
    assert!(!all.contains("not listed"), "{all}");
}

/// `incident timeline` lists what was run, oldest first, by whom and how it
/// ended, from the audit log; a scoped person sees only the runs their
/// roles cover (their own, and those on their hubs).
#[test]
fn the_incident_timeline_lists_the_runs_the_asker_may_see_oldest_first() {
    let (_sim, config) = start(
        r#"
people:
  - { id: alice, roles: [engineer] }
  - { id: stella, roles: [staging-reader] }
roles:
  engineer: { run: ["*"], approve: ["*"] }
  staging-reader: { run: ["hub status", "incident timeline"], scope: { hubs: [staging] } }
"#,
    );
    for text in ["hub status staging", "hub status prod", "hub status class"] {
        let out = opsbot_run(&config, "alice", text);
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    }
    let all = output_text(&opsbot_run(
        &config,
        "alice",
        "incident timeline --since 1h",
    ));
    let at = |what: &str| all.find(what).unwrap_or_else(|| panic!("no {what}: {all}"));
    assert!(at("`hub status staging` → finished") < at("`hub status prod` → finished"));
    assert!(at("`hub status prod`") < at("`hub status class`"), "{all}");
    assert!(all.contains("run 1 · alice"), "{all}");

    let scoped = output_text(&opsbot_run(&config, "stella", "incident timeline"));
    assert!(scoped.contains("`hub status staging`"), "{scoped}");
    assert!(
        !scoped.contains("prod") && !scoped.contains("class"),
        "only what stella's roles cover: {scoped}"
    );
}
