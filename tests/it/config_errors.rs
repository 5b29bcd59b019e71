//! Every validation problem is reported, each at its `file:line:col`, with a
//! message that says what would be right.

use std::collections::HashMap;
use std::path::Path;

use opsbot::config::Config;
use secrecy::ExposeSecret;

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn errors(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    match Config::from_str("opsbot.yaml", text, Path::new("/etc/opsbot"), &env_of(vars)) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
    }
}

fn has(errs: &[String], prefix: &str, needle: &str) {
    assert!(
        errs.iter()
            .any(|e| e.starts_with(prefix) && e.contains(needle)),
        "no error starting {prefix:?} containing {needle:?} in:\n{}",
        errs.join("\n")
    );
}

const BASE: &str = "clusters:\n  - { name: c1, in_cluster: true }\nhubs:\n  - { name: h1, cluster: c1, namespace: ns }\nroles:\n  eng: { run: [\"*\"], approve: [\"*\"] }\n";

#[test]
fn duplicate_names_and_ids_are_each_reported_where_repeated() {
    let text = "\
clusters:
  - { name: c1, in_cluster: true }
  - { name: c1, in_cluster: true }
hubs:
  - { name: h1, cluster: c1, namespace: a }
  - { name: h1, cluster: c1, namespace: b }
roles:
  eng: { run: [\"*\"] }
people:
  - { id: ann, slack: U1, github: Ann-GH, roles: [eng] }
  - { id: ann, roles: [eng] }
  - { id: bob, slack: U1, github: ann-gh, roles: [eng] }
";
    let errs = errors(text, &[]);
    has(&errs, "opsbot.yaml:3:13:", "cluster `c1` is defined twice");
    has(&errs, "opsbot.yaml:6:13:", "hub `h1` is defined twice");
    has(&errs, "opsbot.yaml:11:11:", "person `ann` is defined twice");
    has(
        &errs,
        "opsbot.yaml:12:23:",
        "slack id `U1` of `bob` is already used by `ann`",
    );
    has(&errs, "opsbot.yaml:12:35:", "github id `ann-gh`");
    assert_eq!(errs.len(), 5, "{errs:#?}");
}

#[test]
fn unknown_cluster_and_role_references_suggest_the_right_name() {
    let text = "\
clusters:
  - { name: aws-us, in_cluster: true }
hubs:
  - { name: h1, cluster: aws-su, namespace: ns }
roles:
  engineer: { run: [\"*\"], scope: { clusters: [gcp] , hubs: [nope] } }
people:
  - { id: ann, roles: [enginer] }
";
    let errs = errors(text, &[]);
    has(&errs, "opsbot.yaml:4:26:", "did you mean `aws-us`?");
    has(
        &errs,
        "opsbot.yaml:8:24:",
        "unknown role `enginer`; did you mean `engineer`?",
    );
    has(&errs, "opsbot.yaml:6:47:", "cluster `gcp` is not defined");
    has(
        &errs,
        "opsbot.yaml:6:61:",
        "hub `nope` is not defined under `hubs`",
    );
}

#[test]
fn scope_may_name_undeclared_hubs_when_discovery_is_on() {
    let text = "clusters: [{ name: c1, in_cluster: true }]\ndiscover_hubs: true\nroles:\n  x: { run: [hub status], scope: { hubs: [found-later] } }\n";
    let cfg = Config::from_str("o.yaml", text, Path::new("/"), &env_of(&[])).unwrap();
    assert_eq!(cfg.roles["x"].scope.hubs, vec!["found-later"]);
}

#[test]
fn discovery_is_on_when_the_config_lists_no_hubs_unless_it_says_otherwise() {
    let load = |text: &str| Config::from_str("o.yaml", text, Path::new("/"), &env_of(&[])).unwrap();
    let c = "clusters: [{ name: c1, in_cluster: true }]\n";
    assert!(load(c).discover_hubs, "no hubs: section");
    assert!(!load(&format!("{c}discover_hubs: false\n")).discover_hubs);
    let declared = format!("{c}hubs: [{{ name: h1, cluster: c1, namespace: h1 }}]\n");
    assert!(!load(&declared).discover_hubs, "declared hubs only");
    assert!(load(&format!("{declared}discover_hubs: true\n")).discover_hubs);
}

#[test]
fn bad_command_patterns_are_refused_with_the_accepted_forms() {
    let text = format!("{BASE}  bad: {{ run: [\"\", \"hub * x\", \"hu?b\"] }}\n  empty: {{ scope: {{ hubs: [h1] }} }}\n");
    let errs = errors(&text, &[]);
    has(
        &errs,
        "opsbot.yaml:7:16:",
        "empty command pattern; write a command name like `hub status`",
    );
    has(
        &errs,
        "opsbot.yaml:7:20:",
        "`hub * x` is not a command pattern",
    );
    has(
        &errs,
        "opsbot.yaml:7:31:",
        "`hu?b` is not a command pattern",
    );
    has(&errs, "opsbot.yaml:8:3:", "role `empty` grants nothing");
}

#[test]
fn literal_secrets_are_refused_and_say_how_to_supply_them() {
    let text = format!("{BASE}slack: {{ signing_secret: abc123, bot_token: \"xoxb-1\" }}\n");
    let errs = errors(&text, &[]);
    has(
        &errs,
        "opsbot.yaml:7:26:",
        "slack.signing_secret is a secret written literally",
    );
    has(
        &errs,
        "opsbot.yaml:7:45:",
        "write `${ENV_VAR}` or `${file:PATH}`",
    );
    assert!(
        errs.iter()
            .all(|e| !e.contains("abc123") && !e.contains("xoxb-1")),
        "{errs:#?}"
    );
}

#[test]
fn missing_variables_and_files_are_named_at_their_position() {
    let text = format!(
        "{BASE}github: {{ webhook_secret: \"${{NOPE_SECRET}}\", token: \"${{file:missing-token}}\" }}\n"
    );
    let errs = errors(&text, &[]);
    has(
        &errs,
        "opsbot.yaml:7:27:",
        "environment variable `NOPE_SECRET` is not set",
    );
    has(&errs, "opsbot.yaml:7:52:", "missing-token");
}

#[test]
fn env_and_file_references_expand_in_any_string() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook"), "  from-a-file\n").unwrap();
    let text = "\
listen: \"${HOST}:9000\"
clusters: [{ name: c1, kubeconfig: \"${KCFG}\" }]
github: { webhook_secret: \"${file:hook}\", token: \"${GH}\", prefix: \"/bot\" }
";
    let env = env_of(&[
        ("HOST", "0.0.0.0"),
        ("KCFG", "kube/config"),
        ("GH", "tok-1"),
    ]);
    let cfg = Config::from_str("o.yaml", text, dir.path(), &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.listen.to_string(), "0.0.0.0:9000");
    let gh = cfg.github.as_ref().unwrap();
    assert_eq!(gh.webhook_secret.expose_secret(), "from-a-file");
    assert_eq!(gh.token.as_ref().unwrap().expose_secret(), "tok-1");
    assert_eq!(gh.prefix, "/bot");
    match &cfg.clusters[0].source {
        opsbot::config::ClusterSource::Kubeconfig { path, .. } => {
            assert_eq!(
                path.as_deref(),
                Some(dir.path().join("kube/config").as_path())
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn env_overrides_win_over_the_file_and_complete_missing_sections() {
    let text = format!("{BASE}github: {{ webhook_secret: \"${{FILE_HOOK}}\", token: \"${{T}}\", api_url: \"https://ghe.example/api/v3\" }}\n");
    let env = env_of(&[
        ("FILE_HOOK", "from-file"),
        ("T", "t"),
        ("GITHUB_WEBHOOK_SECRET", "from-env"),
        ("GITHUB_API_URL", "http://127.0.0.1:1234"),
        ("DISCORD_PUBLIC_KEY", &"0f".repeat(32)),
        ("DISCORD_APPLICATION_ID", "99"),
    ]);
    let cfg =
        Config::from_str("o.yaml", &text, Path::new("/"), &env).unwrap_or_else(|e| panic!("{e}"));
    let gh = cfg.github.unwrap();
    assert_eq!(gh.webhook_secret.expose_secret(), "from-env");
    assert_eq!(gh.api_url, "http://127.0.0.1:1234");
    let dc = cfg.discord.expect("discord section created from env alone");
    assert_eq!(dc.api_url, "https://discord.com/api/v10");
    assert!(dc.bot_token.is_none());
    assert!(cfg.slack.is_none());
}

#[test]
fn incomplete_platform_credentials_are_reported() {
    let errs = errors(
        BASE,
        &[
            ("GITHUB_TOKEN", "t"),
            ("DISCORD_BOT_TOKEN", "d"),
            ("SLACK_BOT_TOKEN", "b"),
        ],
    );
    has(
        &errs,
        "opsbot.yaml: github: needs `webhook_secret`",
        "GITHUB_WEBHOOK_SECRET",
    );
    has(
        &errs,
        "opsbot.yaml: discord: needs `public_key`",
        "DISCORD_PUBLIC_KEY",
    );
    has(
        &errs,
        "opsbot.yaml: slack: needs `signing_secret`",
        "SLACK_APP_TOKEN",
    );
    let text = format!("{BASE}github:\n  webhook_secret: \"${{H}}\"\n  app_id: 12\n  min_permission: boss\n  teams: {{ noslash: [eng], \"o/t\": [ghost] }}\n");
    let errs = errors(&text, &[("H", "h")]);
    has(
        &errs,
        "opsbot.yaml:9:11:",
        "`app_id` and `private_key_file` go together",
    );
    has(
        &errs,
        "opsbot.yaml:10:19:",
        "`boss` is not a permission; write one of read, triage",
    );
    has(
        &errs,
        "opsbot.yaml:11:12:",
        "`noslash` is not a team; write `org/team-slug`",
    );
    has(&errs, "opsbot.yaml:11:36:", "unknown role `ghost`");
}

#[test]
fn bad_scalars_are_reported_with_the_expected_form() {
    let text = "listen: nowhere\naudit: { url: \"mysql://x\" }\npolicy: { approval_ttl: soon }\n";
    let errs = errors(text, &[]);
    has(
        &errs,
        "opsbot.yaml:1:9:",
        "write IP:PORT such as `127.0.0.1:8080`",
    );
    has(
        &errs,
        "opsbot.yaml:2:15:",
        "write `sqlite://PATH` or `postgres://HOST/DB`",
    );
    has(&errs, "opsbot.yaml:3:25:", "write e.g. `30m` or `1h`");
}

#[test]
fn a_literal_database_password_is_refused_but_an_env_one_is_hidden() {
    let errs = errors("audit: { url: \"postgres://u:hunter2@db/ops\" }\n", &[]);
    has(&errs, "opsbot.yaml:1:15:", "password is written literally");
    assert!(errs.iter().all(|e| !e.contains("hunter2")));
    let cfg = Config::from_str(
        "o.yaml",
        "audit: { url: \"postgres://u:${PW}@db/ops\" }\n",
        Path::new("/"),
        &env_of(&[("PW", "hunter2")]),
    )
    .unwrap();
    assert_eq!(cfg.audit_url, "postgres://u:hunter2@db/ops");
    assert_eq!(cfg.secrets(), vec!["hunter2".to_string()]);
    assert!(!format!("{cfg:?}").contains("hunter2"));
    assert!(!cfg.to_yaml_redacted().contains("hunter2"));
}

#[test]
fn unknown_sections_and_fields_are_refused_with_a_suggestion() {
    let errs = errors(&format!("{BASE}hubz: []\n"), &[]);
    has(
        &errs,
        "opsbot.yaml:7:1:",
        "unknown section `hubz`; did you mean `hubs`?",
    );
    let errs = errors("people:\n  - { id: a, slak: U1 }\n", &[]);
    has(
        &errs,
        "opsbot.yaml:2:14:",
        "people[0].slak: Unknown field `slak`, expected one of",
    );
}

#[test]
fn type_errors_in_several_places_are_all_reported() {
    let text = "\
discover_hubs: maybe
people:
  - { id: a, roles: eng }
  - { id: b, kube_usr: x }
roles:
  eng: { run: [\"*\"], aprove: [] }
github: { max_commands_per_comment: lots }
";
    let errs = errors(text, &[]);
    has(&errs, "opsbot.yaml:1:16:", "discover_hubs");
    has(&errs, "opsbot.yaml:3:21:", "people[0].roles");
    has(
        &errs,
        "opsbot.yaml:4:14:",
        "people[1].kube_usr: Unknown field",
    );
    has(
        &errs,
        "opsbot.yaml:6:22:",
        "roles.eng.aprove: Unknown field",
    );
    has(
        &errs,
        "opsbot.yaml:7:37:",
        "github.max_commands_per_comment",
    );
    assert_eq!(errs.len(), 5, "{errs:#?}");
}

#[test]
fn syntax_errors_have_a_position() {
    let errs = errors("people: [ { id: a\n", &[]);
    assert!(errs[0].starts_with("opsbot.yaml:"), "{errs:?}");
    assert!(!errs[0].starts_with("opsbot.yaml: "), "{errs:?}");
}

#[test]
fn hub_api_tokens_are_secrets_kept_out_of_debug_and_printed_config() {
    let text = "\
clusters: [{ name: c1, in_cluster: true }]
hubs:
  - name: h1
    cluster: c1
    namespace: ns
    jupyterhub_api: { url: \"http://hub:8081/hub/api/\", token: \"${HUB_TOKEN}\" }
";
    let cfg = Config::from_str(
        "o.yaml",
        text,
        Path::new("/"),
        &env_of(&[("HUB_TOKEN", "jh-tok-123")]),
    )
    .unwrap();
    let api = cfg.hub("h1").unwrap().jupyterhub_api.as_ref().unwrap();
    assert_eq!(api.url, "http://hub:8081/hub/api");
    assert_eq!(api.token.expose_secret(), "jh-tok-123");
    assert_eq!(cfg.secrets(), vec!["jh-tok-123".to_string()]);
    assert!(!format!("{cfg:?}").contains("jh-tok-123"));
    let printed = cfg.to_yaml_redacted();
    assert!(
        !printed.contains("jh-tok-123") && printed.contains("token: <redacted>"),
        "{printed}"
    );
    let errs = errors(&text.replace("${HUB_TOKEN}", "jh-literal"), &[]);
    has(
        &errs,
        "opsbot.yaml:6:63:",
        "jupyterhub_api.token is a secret written literally",
    );
}

#[test]
fn github_triage_labels_is_on_unless_turned_off_and_is_a_switch() {
    let env = [("H", "hook"), ("T", "tok")];
    let load = |extra: &str| {
        let text =
            format!("{BASE}github: {{ webhook_secret: \"${{H}}\", token: \"${{T}}\"{extra} }}\n");
        Config::from_str("opsbot.yaml", &text, Path::new("/"), &env_of(&env))
    };
    let on = load("").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        on.github.unwrap().triage_labels,
        "labelling is on by default"
    );
    let off = load(", triage_labels: false").unwrap_or_else(|e| panic!("{e}"));
    assert!(!off.github.unwrap().triage_labels);

    let text = format!(
        "{BASE}github: {{ webhook_secret: \"${{H}}\", token: \"${{T}}\", triage_labels: [opsbot] }}\n"
    );
    let errs = errors(&text, &env);
    has(&errs, "opsbot.yaml:7:", "github.triage_labels");
}

/// Issue 17: `people[].github` is matched by account id; a value that is
/// neither a login nor `id:NUMBER` could never match and is an error.
#[test]
fn a_github_identity_that_is_neither_a_login_nor_an_id_is_an_error_with_the_forms_to_write() {
    let text = "people:\n  - { id: ann, github: \"id:abc\", roles: [] }\n  - { id: ben, github: \"ben/gh\", roles: [] }\n  - { id: cy, github: \"id:583231\", roles: [] }\n  - { id: di, github: di-gh, roles: [] }\n";
    let err =
        opsbot::config::Config::from_str("opsbot.yaml", text, std::path::Path::new("."), &|_| None)
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("people.ann.github: `id:abc` is neither a GitHub login nor `id:NUMBER`"),
        "{err}"
    );
    assert!(err.contains("people.ben.github: `ben/gh`"), "{err}");
    assert!(
        !err.contains("people.cy") && !err.contains("people.di"),
        "{err}"
    );
    assert!(err.contains("opsbot.yaml:2:"), "with its position: {err}");
}

#[test]
fn the_alertmanager_section_says_what_is_missing_at_its_place() {
    let text = format!(
        "{BASE}alertmanager:\n  person: robot\n  routes:\n    - {{ command: \"hub status {{{{ hub }}}}\" }}\n    - {{ match_re: {{ namespace: \"(\" }}, command: \"pending all\", slack_channel: C1 }}\n"
    );
    let errs = errors(&text, &[]);
    has(&errs, "opsbot.yaml:8:9:", "set `token`");
    has(&errs, "opsbot.yaml:8:11:", "`robot` is not in `people:`");
    has(&errs, "opsbot.yaml:10:7:", "give `match:` or `match_re:`");
    has(&errs, "opsbot.yaml:10:7:", "no destination");
    has(&errs, "opsbot.yaml:11:7:", "is not a regular expression");
    let literal = format!("{BASE}people:\n  - {{ id: alertmanager, roles: [eng] }}\nalertmanager: {{ token: plain-text }}\n");
    let errs = errors(&literal, &[]);
    has(
        &errs,
        "opsbot.yaml:9:",
        "alertmanager.token is a secret written literally",
    );
}

#[test]
fn the_alertmanager_token_comes_from_the_environment_and_stays_out_of_printed_config() {
    let text = format!(
        "{BASE}people:\n  - {{ id: alertmanager, roles: [eng] }}\nalertmanager: {{ slack_channel: C1 }}\n"
    );
    let cfg = Config::from_str(
        "opsbot.yaml",
        &text,
        Path::new("/etc/opsbot"),
        &env_of(&[("OPSBOT_ALERTMANAGER_TOKEN", "am-s3cret")]),
    )
    .unwrap();
    let am = cfg.alertmanager.as_ref().unwrap();
    assert_eq!(am.token.as_ref().unwrap().expose_secret(), "am-s3cret");
    assert_eq!(am.person, "alertmanager");
    assert!(am.builtin_routes);
    assert!(!cfg.to_yaml_redacted().contains("am-s3cret"));
    assert!(!format!("{cfg:?}").contains("am-s3cret"));
    assert!(cfg.secrets().contains(&"am-s3cret".to_string()));
}

#[test]
fn a_schedule_with_a_bad_cron_an_unknown_person_or_a_repeated_name_is_refused_at_its_place() {
    let text = format!(
        "{BASE}schedules:\n  - {{ name: m, cron: \"0 25 * * *\", command: fleet status, slack_channel: C1 }}\n  - {{ name: m, cron: \"@daily\", command: fleet status, slack_channel: C1, person: robot }}\n"
    );
    let errs = errors(&text, &[]);
    has(
        &errs,
        "opsbot.yaml:8:",
        "schedules.m.cron: `0 25 * * *` is not a cron expression",
    );
    has(&errs, "opsbot.yaml:8:", "`scheduler` is not in `people:`");
    has(&errs, "opsbot.yaml:9:", "`m` is named twice");
    has(&errs, "opsbot.yaml:9:", "`robot` is not in `people:`");
}

#[test]
fn a_clusters_prometheus_needs_an_http_url_a_referenced_token_and_a_positive_timeout() {
    let text = "clusters:\n  - { name: c1, in_cluster: true, prometheus: { url: \"prometheus:9090\", token: plain, timeout: \"0s\" } }\n  - { name: c2, in_cluster: true, prometheus: { url: \"http://p:9090\", timeout: soon } }\n";
    let errs = errors(text, &[]);
    has(
        &errs,
        "opsbot.yaml:2:",
        "prometheus.url `prometheus:9090` is not an http(s) URL",
    );
    has(
        &errs,
        "opsbot.yaml:2:",
        "clusters[].prometheus.token is a secret written literally",
    );
    has(
        &errs,
        "opsbot.yaml:3:",
        "prometheus.timeout `soon` is not a positive duration",
    );
}

#[test]
fn a_slack_channel_incident_flag_that_is_not_a_boolean_says_to_write_true_or_false() {
    let text = format!(
        "{BASE}slack:\n  channels:\n    C0INCIDENT: {{ incident: \"yes\" }}\n    C0OTHER: {{ incidnet: true }}\n    C0THIRD: 42\n"
    );
    let errs = errors(
        &text,
        &[("SLACK_BOT_TOKEN", "x"), ("SLACK_SIGNING_SECRET", "s")],
    );
    has(
        &errs,
        "opsbot.yaml:9:",
        "slack.channels.C0INCIDENT.incident: expected `true` or `false`",
    );
    has(
        &errs,
        "opsbot.yaml:10:",
        "incidnet: Unknown field `incidnet`, expected `commands` or `incident`",
    );
    has(&errs, "opsbot.yaml:11:", "a list of commands");
}

#[test]
fn an_alert_destination_github_that_is_not_owner_slash_name_says_how_to_write_it() {
    let text = format!(
        "{BASE}people:\n  - {{ id: alertmanager, roles: [eng] }}\nalertmanager:\n  github: just-a-name\n  routes:\n    - {{ match: {{ alertname: A }}, command: \"pending all\", github: \"https://github.com/o/r\" }}\n    - {{ match: {{ alertname: B }}, command: \"pending all\", github: \"-bad/r\" }}\n    - {{ match: {{ alertname: C }}, command: \"pending all\", discord_channel: general }}\n    - {{ match: {{ alertname: D }}, command: \"pending all\", github: my-org/incidents.v2, discord_channel: \"1111111111111111111\" }}\n"
    );
    let errs = errors(&text, &[("OPSBOT_ALERTMANAGER_TOKEN", "t")]);
    has(
        &errs,
        "opsbot.yaml:10:",
        "alertmanager.github: `just-a-name` is not a repository; write `owner/name`",
    );
    has(
        &errs,
        "opsbot.yaml:12:",
        "alertmanager.routes[0].github: `https://github.com/o/r` is not a repository",
    );
    has(
        &errs,
        "opsbot.yaml:13:",
        "alertmanager.routes[1].github: `-bad/r` is not a repository",
    );
    has(
        &errs,
        "opsbot.yaml:14:",
        "alertmanager.routes[2].discord_channel: `general` is not a channel id",
    );
    assert!(
        !errs.iter().any(|e| e.contains("routes[3]")),
        "a well-formed repository and channel id are accepted: {errs:?}"
    );
}

#[test]
fn a_clusters_prometheus_token_comes_from_the_environment_and_stays_out_of_printed_config() {
    let text = "clusters:\n  - { name: c1, in_cluster: true, prometheus: { url: \"http://prometheus.monitoring:9090/\", token: \"${PROM_TOKEN}\", timeout: 5s } }\n";
    let cfg = Config::from_str(
        "opsbot.yaml",
        text,
        Path::new("/etc/opsbot"),
        &env_of(&[("PROM_TOKEN", "prom-s3cret")]),
    )
    .unwrap();
    let p = cfg.clusters[0].prometheus.as_ref().unwrap();
    assert_eq!(p.url, "http://prometheus.monitoring:9090");
    assert_eq!(p.token.as_ref().unwrap().expose_secret(), "prom-s3cret");
    assert_eq!(p.timeout, std::time::Duration::from_secs(5));
    let printed = cfg.to_yaml_redacted();
    assert!(
        printed.contains("http://prometheus.monitoring:9090"),
        "{printed}"
    );
    assert!(!printed.contains("prom-s3cret"), "{printed}");
    assert!(cfg.secrets().contains(&"prom-s3cret".to_string()));
}

#[test]
fn alert_routes_may_name_github_and_discord_instead_of_slack() {
    let text = format!(
        "{BASE}people:\n  - {{ id: alertmanager, roles: [eng] }}\nalertmanager:\n  github: my-org/incidents\n  routes:\n    - {{ match: {{ alertname: A }}, command: \"pending all\", discord_channel: \"1111111111111111111\" }}\n    - {{ match: {{ alertname: B }}, command: \"pending all\" }}\n"
    );
    let cfg = Config::from_str(
        "opsbot.yaml",
        &text,
        Path::new("/etc/opsbot"),
        &env_of(&[("OPSBOT_ALERTMANAGER_TOKEN", "t")]),
    )
    .unwrap();
    let am = cfg.alertmanager.unwrap();
    assert_eq!(am.github.as_deref(), Some("my-org/incidents"));
    assert_eq!(am.slack_channel, None);
    assert_eq!(
        am.routes[0].discord_channel.as_deref(),
        Some("1111111111111111111")
    );
    assert_eq!(
        am.routes[1].github, None,
        "the section's default applies at compile time"
    );
}
