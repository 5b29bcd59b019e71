//! The import graph flows one way. Each module of `src/` has a layer; a
//! `crate::…` path may only name a module of a lower layer (or its own).
//! This is what keeps the chat model, the config and the simulator usable
//! without dragging the runner, the audit log or an adapter along: a change
//! that makes `config` import `runs`, or the chat model import `audit`,
//! fails here with the file and line to fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layers, lowest first. A module may import only from layers below its own.
const LAYERS: &[&[&str]] = &[
    &[
        "diagnostic",
        "redact",
        "metrics",
        "chat::model",
        "chat::place",
        "retry",
        "chat::view",
        "urlpath",
        "chart",
    ],
    &[
        "config",
        "jupyterhub::api",
        "jupyterhub::username",
        "jupyterhub::diagnose",
        "jupyterhub::server_pod",
    ],
    &["jupyterhub::directory", "prometheus"],
    &["audit", "authz", "command", "chat::render", "chat::verify"],
    &["cluster"],
    &["actions"],
    &["playbook"],
    &[
        "runs",
        "chat::slack",
        "chat::github",
        "chat::discord",
        "chat::console",
    ],
    &["alerts", "schedules"],
    &["app"],
    &["cli"],
];

/// The layer of a module path such as `chat::slack::thread` or `runs`.
fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    let mut best: Option<(usize, &'static str)> = None;
    for (i, layer) in LAYERS.iter().enumerate() {
        for name in *layer {
            let hit = module == *name || module.starts_with(&format!("{name}::"));
            if hit && best.is_none_or(|(_, b)| name.len() > b.len()) {
                best = Some((i, name));
            }
        }
    }
    best
}

/// `src/chat/slack/thread.rs` → `chat::slack::thread`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .filter(|p| p != "mod")
        .collect();
    parts.join("::")
}

/// What `crate::chat::Update` and friends mean: the chat façade re-exports
/// the model, so a path into `chat` that names no adapter is the model.
fn target_of(path: &str) -> String {
    let segs: Vec<&str> = path.split("::").collect();
    if segs.first() == Some(&"chat") {
        match segs.get(1) {
            Some(s)
                if [
                    "slack", "github", "discord", "console", "render", "place", "retry", "view",
                    "verify",
                ]
                .contains(s) =>
            {
                return format!("chat::{s}")
            }
            _ => return "chat::model".into(),
        }
    }
    if segs.first() == Some(&"jupyterhub") {
        if let Some(s) = segs.get(1) {
            return format!("jupyterhub::{s}");
        }
    }
    segs[0].to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every upward import in `src/`, as `file:line: a imports b`.
fn upward_imports() -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let path = regex::Regex::new(r"crate::([a-z_]+(?:::[a-z_]+)*)").unwrap();
    let mut bad = Vec::new();
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&src, &file);
        // The folder roots only declare their children and re-export.
        if ["lib", "main", "chat", "jupyterhub"].contains(&module.as_str()) {
            continue;
        }
        let Some((mine, my_name)) = layer_of(&module) else {
            bad.push(format!(
                "{}: module `{module}` has no layer in tests/it/architecture.rs",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for cap in path.captures_iter(code) {
                let target = target_of(&cap[1]);
                let Some((theirs, their_name)) = layer_of(&target) else {
                    continue;
                };
                if their_name == my_name {
                    continue;
                }
                graph
                    .entry(my_name.to_string())
                    .or_default()
                    .push(their_name.to_string());
                if theirs >= mine {
                    bad.push(format!(
                        "{}:{}: `{my_name}` (layer {mine}) imports `{their_name}` (layer {theirs})",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    for deps in graph.values_mut() {
        deps.sort();
        deps.dedup();
    }
    (bad, graph)
}

#[test]
fn imports_only_point_down_the_layers() {
    let (bad, _) = upward_imports();
    assert!(
        bad.is_empty(),
        "imports that point up the data flow:\n{}",
        bad.join("\n")
    );
}

#[test]
fn config_and_the_chat_model_import_no_runner_audit_log_or_adapter() {
    let (_, graph) = upward_imports();
    let forbidden = [
        "runs",
        "audit",
        "chat::slack",
        "chat::github",
        "chat::discord",
        "chat::console",
    ];
    for low in ["config", "chat::model"] {
        let deps = graph.get(low).cloned().unwrap_or_default();
        for f in forbidden {
            assert!(
                !deps.iter().any(|d| d == f),
                "`{low}` imports `{f}`: {deps:?}"
            );
        }
    }
}

#[test]
fn the_simulator_crate_imports_nothing_from_opsbot() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("sim/Cargo.toml"))
            .unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap_or("");
    assert!(
        !deps
            .lines()
            .any(|l| l.trim_start().starts_with("opsbot ") || l.trim_start().starts_with("opsbot=")),
        "sim/Cargo.toml depends on opsbot"
    );
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sim/src"),
        &mut files,
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains("opsbot::"), "{} names opsbot::", f.display());
    }
}
