//! Names typed in chat are checked by their type before they reach a URL
//! path or a Kubernetes name, through the binary: `.` and `..` would collapse
//! the hub API path (`DELETE /users/../server` is `/users/server`), `a/b` and
//! `%2e%2e` would address another resource.

use std::path::Path;
use std::process::Output;

use crate::support::binary::{opsbot, output_text as text};

fn demo_exec(dir: &Path, text: &str, who: &str) -> Output {
    opsbot(dir, &["demo", "--exec", text, "--as", who])
}

#[test]
fn usernames_that_would_rewrite_the_hub_api_path_are_refused_at_parse_time() {
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(300);
    for bad in [".", "..", "a/b", "%2e%2e", "''", long.as_str()] {
        let out = demo_exec(dir.path(), &format!("user stop staging {bad}"), "alice");
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{bad}: {t}");
        assert!(
            t.contains("is not a JupyterHub username") || t.contains("username"),
            "{bad}: {t}"
        );
        assert!(!t.contains("as run"), "{bad} must not start a run: {t}");
    }
    let list = opsbot(dir.path(), &["audit", "list", "--config", "/dev/null"]);
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains("user stop"),
        "nothing was recorded as requested: {}",
        text(&list)
    );
}

#[test]
fn a_unicode_username_is_a_name_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo_exec(dir.path(), "triage staging josé", "bob");
    assert!(
        !text(&out).contains("not a JupyterHub username"),
        "{}",
        text(&out)
    );
}

#[test]
fn kubernetes_names_are_checked_as_dns_subdomains_at_parse_time() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["..", "a/b", "%2e%2e", "a..b", "Ünï", "-x"] {
        let out = demo_exec(dir.path(), &format!("dask stop climate {bad}"), "alice");
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{bad}: {t}");
        assert!(t.contains("is not a Kubernetes name"), "{bad}: {t}");
    }
}
