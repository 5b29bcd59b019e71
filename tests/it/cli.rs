//! The `opsbot` binary as people and scripts use it: `demo --exec` exit
//! codes, `--print-config`, `check` with `file:line:col` errors, and the
//! audit commands catching a tampered log.

use std::path::Path;
use std::process::Command;

use crate::support::binary::{opsbot, output_text as text};
use crate::support::server::http_get;

#[test]
fn demo_exec_exit_codes_say_succeeded_refused_or_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let ok = opsbot(
        dir.path(),
        &["demo", "--exec", "hub status staging", "--as", "bob"],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(
        text(&ok).contains("Hub staging") && text(&ok).contains("succeeded"),
        "{}",
        text(&ok)
    );

    let denied = opsbot(
        dir.path(),
        &[
            "demo",
            "--exec",
            "hub restart prod --reason x",
            "--as",
            "bob",
        ],
    );
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied));
    assert!(text(&denied).contains("may not"), "{}", text(&denied));

    let waiting = opsbot(
        dir.path(),
        &[
            "demo",
            "--exec",
            "hub restart staging --reason cli test",
            "--as",
            "alice",
        ],
    );
    assert_eq!(waiting.status.code(), Some(3), "{}", text(&waiting));
    assert!(
        text(&waiting).contains("dry run ok") && text(&waiting).contains("carol"),
        "{}",
        text(&waiting)
    );

    // The same audit file holds all three, and its chain verifies.
    let cfg = dir.path().join("opsbot.yaml");
    std::fs::write(
        &cfg,
        format!(
            "audit: {{ url: \"sqlite://{}\" }}\n",
            dir.path().join("audit.db").display()
        ),
    )
    .unwrap();
    let list = opsbot(
        dir.path(),
        &["audit", "list", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    assert!(
        text(&list).contains("hub restart staging"),
        "{}",
        text(&list)
    );
    let verify = opsbot(
        dir.path(),
        &["audit", "verify", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
}

#[test]
fn a_tampered_audit_log_fails_verify_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let ok = opsbot(
        dir.path(),
        &["demo", "--exec", "hub status staging", "--as", "bob"],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let db = dir.path().join("audit.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let changed = conn
        .execute(
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let cfg = dir.path().join("opsbot.yaml");
    std::fs::write(
        &cfg,
        format!("audit: {{ url: \"sqlite://{}\" }}\n", db.display()),
    )
    .unwrap();
    let verify = opsbot(
        dir.path(),
        &["audit", "verify", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(text(&verify).contains("record 2"), "{}", text(&verify));
    let export = opsbot(
        dir.path(),
        &["audit", "export", "--config", cfg.to_str().unwrap()],
    );
    let first = String::from_utf8_lossy(&export.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let record: serde_json::Value = serde_json::from_str(&first).expect("export is JSON lines");
    assert_eq!(record["seq"], 1);
}

#[test]
fn print_config_shows_people_and_hubs_but_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["demo", "--print-config"])
        .current_dir(dir.path())
        .env("SLACK_SIGNING_SECRET", "very-secret-signing-value")
        .env("SLACK_BOT_TOKEN", "xoxb-very-secret-bot-token")
        .env(
            "OPSBOT_AUDIT_URL",
            format!("sqlite://{}", dir.path().join("a.db").display()),
        )
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for fact in [
        "alice",
        "U0DEMOBOB",
        "bob-demo",
        "100000000000000001",
        "staging",
        "aws-us",
    ] {
        assert!(t.contains(fact), "{fact} missing from:\n{t}");
    }
    assert!(
        !t.contains("very-secret-signing-value")
            && !t.contains("xoxb-very-secret-bot-token")
            && !t.contains("staging-hub-api-token"),
        "{t}"
    );
    // One YAML document a person can save and edit (no key twice).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    let hubs = doc["hubs"].as_sequence().expect("hubs list");
    let staging = hubs
        .iter()
        .find(|h| h["name"].as_str() == Some("staging"))
        .expect("staging declared");
    assert!(
        staging["jupyterhub_api"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/aws-us/staging/hub/api")),
        "{stdout}"
    );
}

#[test]
fn check_reports_every_problem_with_its_position_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["commands", "playbooks"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(root.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let clean = opsbot(dir.path(), &["check"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(text(&clean).starts_with("ok: "), "{}", text(&clean));

    let users = dir.path().join("playbooks/users.yaml");
    std::fs::write(
        &users,
        std::fs::read_to_string(&users)
            .unwrap()
            .replacen("kube.list:", "kube.lst:", 1),
    )
    .unwrap();
    let hubs = dir.path().join("commands/hubs.yaml");
    std::fs::write(
        &hubs,
        std::fs::read_to_string(&hubs)
            .unwrap()
            .replacen("args:", "argz:", 1),
    )
    .unwrap();
    let broken = opsbot(dir.path(), &["check"]);
    let t = text(&broken);
    assert_eq!(broken.status.code(), Some(1), "{t}");
    assert!(
        t.contains("playbooks/users.yaml:") && t.contains("kube.lst"),
        "{t}"
    );
    assert!(t.contains("did you mean 'kube.list'"), "{t}");
    assert!(
        t.contains("commands/hubs.yaml:") && t.contains("argz"),
        "{t}"
    );
    assert!(
        t.contains("2 problem(s) found"),
        "every problem is reported, not the first: {t}"
    );
}

/// A plain HTTP/1.1 GET over loopback: (status, body).
#[test]
fn demo_serves_health_readiness_and_metrics_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args([
            "demo",
            "--no-console",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir.path())
        .env_remove("SLACK_SIGNING_SECRET")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .env_remove("DISCORD_PUBLIC_KEY")
        .env(
            "OPSBOT_AUDIT_URL",
            format!("sqlite://{}", dir.path().join("audit.db").display()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &str| -> Option<(u16, String)> { http_get(port, path) };
    let mut health = None;
    for _ in 0..300 {
        health = get("/healthz");
        if health.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (code, _) = health.expect("the demo serves /healthz");
    assert_eq!(code, 200);
    let (code, ready) = get("/readyz").unwrap();
    assert_eq!(code, 200, "{ready}");
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["clusters"]["aws-us"], "ok", "{ready}");
    let (code, metrics) = get("/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(
        metrics.contains("# TYPE opsbot_runs counter")
            && metrics.contains("opsbot_runs_in_flight 0"),
        "{metrics}"
    );
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the demo did not stop on SIGTERM within 30 s")
    });
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_demos_default_audit_file_is_in_the_current_directory_and_outlives_it() {
    let dir = tempfile::tempdir().unwrap();
    let demo = |cmd: &str| {
        Command::new(env!("CARGO_BIN_EXE_opsbot"))
            .args(["demo", "--exec", cmd])
            .current_dir(dir.path())
            .env_remove("OPSBOT_AUDIT_URL")
            .output()
            .unwrap()
    };
    assert_eq!(demo("hub status staging").status.code(), Some(0));
    let second = demo("users prod");
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    // The second demo continued the same log: its run is number 2.
    assert!(text(&second).contains("audit: run 2"), "{}", text(&second));
    assert!(dir.path().join("opsbot-demo.db").exists());
    std::fs::write(
        dir.path().join("o.yaml"),
        "audit: { url: \"sqlite://opsbot-demo.db\" }\n",
    )
    .unwrap();
    let list = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["audit", "list", "--config", "o.yaml"])
        .current_dir(dir.path())
        .env_remove("OPSBOT_AUDIT_URL")
        .output()
        .unwrap();
    let t = text(&list);
    assert!(
        t.contains("hub status staging") && t.contains("users prod"),
        "{t}"
    );
}

/// A config that names no `commands:`/`playbooks:` and has none beside it
/// (a container with only a config file) uses the pack built into the
/// binary: `check` says so, and a command runs against the simulator.
#[test]
fn a_config_without_commands_or_playbooks_uses_the_built_in_pack() {
    let sim = crate::support::binary::SimProcess::start(&[(
        "aws-us/10-staging.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: { name: staging }\n",
    )]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("opsbot.yaml");
    std::fs::write(
        &cfg,
        format!(
            "audit: {{ url: \"sqlite://{}\" }}\nclusters:\n  - {{ name: aws-us, kubeconfig: \"{}\", context: aws-us }}\nhubs:\n  - {{ name: staging, cluster: aws-us, namespace: staging }}\npeople:\n  - {{ id: bob, roles: [reader] }}\nroles:\n  reader: {{ run: [\"pending\"] }}\n",
            dir.path().join("audit.db").display(),
            sim.kubeconfig().display()
        ),
    )
    .unwrap();
    let check = opsbot(dir.path(), &["check", "--config", cfg.to_str().unwrap()]);
    let said = text(&check);
    assert!(check.status.success(), "{said}");
    assert!(
        said.contains("pack: commands from the built-in pack, playbooks from the built-in pack"),
        "{said}"
    );
    let out = crate::support::binary::opsbot_run(&cfg, "bob", "pending staging");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// `opsbot check` names the Slack channels in incident mode, so the
/// operator sees where runs will post at the top level instead of in threads.
#[test]
fn check_names_the_slack_channels_in_incident_mode() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("slack-secret");
    let token = dir.path().join("slack-token");
    std::fs::write(&secret, "s3cr3t").unwrap();
    std::fs::write(&token, "xoxb-1").unwrap();
    let cfg = dir.path().join("opsbot.yaml");
    std::fs::write(
        &cfg,
        format!(
            "slack:\n  signing_secret: \"${{file:{}}}\"\n  bot_token: \"${{file:{}}}\"\n  channels:\n    C0INCIDENT: {{ incident: true }}\n    C0CALM: {{ incident: false, commands: [help] }}\n    C0SUPPORT: [help]\n",
            secret.display(),
            token.display()
        ),
    )
    .unwrap();
    let check = opsbot(dir.path(), &["check", "--config", cfg.to_str().unwrap()]);
    let said = text(&check);
    assert!(check.status.success(), "{said}");
    let line = said
        .lines()
        .find(|l| l.starts_with("slack: incident mode in "))
        .unwrap_or_else(|| panic!("no incident mode line in:\n{said}"));
    assert!(
        line.starts_with("slack: incident mode in C0INCIDENT:"),
        "{line}"
    );
    assert!(
        !line.contains("C0CALM") && !line.contains("C0SUPPORT"),
        "{line}"
    );
}

/// `opsbot check` says where alert groups go, and warns about a route whose
/// destination's platform has no token: its groups would be posted nowhere.
#[test]
fn check_names_alert_destinations_and_warns_about_one_no_platform_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("am-token");
    std::fs::write(&token, "am-t0ken").unwrap();
    let cfg = dir.path().join("opsbot.yaml");
    std::fs::write(
        &cfg,
        format!(
            "people:\n  - {{ id: alertmanager, roles: [alerts] }}\nroles:\n  alerts: {{ run: [\"hub status\"] }}\nalertmanager:\n  token: \"${{file:{}}}\"\n  github: my-org/incidents\n  builtin_routes: false\n  routes:\n    - {{ match: {{ alertname: KubePodCrashLooping }}, command: \"hub status {{{{ hub }}}}\" }}\n",
            token.display()
        ),
    )
    .unwrap();
    let check = opsbot(dir.path(), &["check", "--config", cfg.to_str().unwrap()]);
    let said = text(&check);
    assert!(check.status.success(), "{said}");
    assert!(
        said.contains("for each group a GitHub issue in my-org/incidents"),
        "{said}"
    );
    assert!(
        said.contains("alertmanager: warning: routes post to GitHub repository my-org/incidents, whose platform is not configured"),
        "{said}"
    );
}
