//! `opsbot serve`'s listener limits, through the binary: a client that sends
//! half a request head is disconnected by the header-read timeout, and
//! connections beyond the limit wait instead of being served at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use crate::support::server::{Server, PATIENCE};

fn serve_config(dir: &Path) -> std::path::PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let cfg = dir.join("serve.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\naudit: {{ url: \"sqlite://{}\" }}\n\
             commands: {root}/commands\nplaybooks: {root}/playbooks\n",
            dir.join("audit.db").display()
        ),
    )
    .unwrap();
    cfg
}

/// [`serve_config`] with `extra` appended (more sections).
fn serve_config_with(dir: &Path, extra: &str) -> std::path::PathBuf {
    let cfg = serve_config(dir);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(extra);
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// A connection that sent the start of a request head and stopped.
fn half_a_header(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:")
        .unwrap();
    s
}

#[test]
fn a_client_that_sends_half_a_header_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &serve_config(dir.path()),
        &[("OPSBOT_HTTP_HEADER_TIMEOUT", "1s")],
    );
    let mut slow = half_a_header(server.port);
    let mut rest = Vec::new();
    // Without the timeout this read blocks until PATIENCE and errs.
    let read = slow.read_to_end(&mut rest);
    assert!(
        read.is_ok(),
        "the server kept the connection open: {read:?}"
    );
    let (code, _) = server.get("/healthz").expect("still serving");
    assert_eq!(code, 200);
}

#[test]
fn connections_beyond_the_limit_wait_until_a_slot_frees() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &serve_config(dir.path()),
        &[
            ("OPSBOT_HTTP_HEADER_TIMEOUT", "1s"),
            ("OPSBOT_HTTP_MAX_CONNECTIONS", "1"),
        ],
    );
    let mut slow = half_a_header(server.port);
    // Queued behind `slow`: answered once the header timeout frees the slot.
    let (code, body) = server
        .get("/healthz")
        .expect("the queued request is served");
    assert_eq!(code, 200, "{body}");
    // The slot was `slow`'s until the server closed it: its end of stream
    // is already here (without a limit `slow` would still be open and this
    // read would find nothing).
    slow.set_nonblocking(true).unwrap();
    let mut rest = Vec::new();
    let closed = slow.read_to_end(&mut rest);
    assert!(
        closed.is_ok(),
        "served while the only slot was held: {closed:?}"
    );
}

#[test]
fn readyz_stays_ready_under_a_broken_cluster_and_names_it_without_the_error_text() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: every call to this "cluster" is refused.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: aws-us\n\
             clusters: [{{name: aws-us, cluster: {{server: \"https://127.0.0.1:{dead_port}\", insecure-skip-tls-verify: true}}}}]\n\
             users: [{{name: bot, user: {{token: secret-bot-token}}}}]\n\
             contexts: [{{name: aws-us, context: {{cluster: aws-us, user: bot}}}}]\n"
        ),
    )
    .unwrap();
    let cfg = serve_config_with(
        dir.path(),
        &format!(
            "clusters:\n  - {{ name: aws-us, kubeconfig: \"{}\", context: aws-us }}\n",
            kubeconfig.display()
        ),
    );
    let server = Server::start(&cfg, &[]);
    let (code, body) = server.get("/readyz").expect("readyz answers");
    // The audit store takes writes: opsbot can answer people, so it stays
    // in the Service; the broken cluster is named, and graphed.
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["message"], "ready; unreachable: cluster aws-us", "{body}");
    assert_eq!(v["clusters"]["aws-us"], "unreachable", "{body}");
    let (_, metrics) = server.get("/metrics").expect("metrics answer");
    assert!(
        metrics.contains("opsbot_cluster_reachable{cluster=\"aws-us\"} 0"),
        "{metrics}"
    );
    assert!(
        !body.contains(&dead_port.to_string()) && !body.to_lowercase().contains("refused"),
        "backend error text echoed: {body}"
    );
}

/// The same limit written in the config's `http:` section (what a Helm
/// value sets), with no environment variable.
#[test]
fn the_configs_http_section_sets_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = serve_config_with(
        dir.path(),
        "http: { header_timeout: 1s, max_connections: 8 }\n",
    );
    let server = Server::start(&cfg, &[]);
    let mut slow = half_a_header(server.port);
    let mut rest = Vec::new();
    let read = slow.read_to_end(&mut rest);
    assert!(
        read.is_ok(),
        "the server kept the connection open: {read:?}"
    );
}

/// A limit that is not a duration is refused at its place in the file.
#[test]
fn an_http_limit_that_is_not_a_duration_is_an_error_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = serve_config_with(dir.path(), "http: { request_timeout: soon }\n");
    let out =
        crate::support::binary::opsbot(dir.path(), &["check", "--config", cfg.to_str().unwrap()]);
    let said = crate::support::binary::output_text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("http.request_timeout: `soon` is not a positive duration")
            && said.contains("serve.yaml:"),
        "{said}"
    );
}
