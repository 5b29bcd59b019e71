//! The shipped knowledge catalogue (`playbooks/knowledge/`) loads, every entry
//! in it is the top finding of at least one realistic fixture, and broken
//! catalogue files are reported as `file:line:col`.

use std::path::Path;

use opsbot::jupyterhub::diagnose::{Catalogue, Evidence, PoolCapacity, PoolTaint, Scaling};

#[path = "../../src/jupyterhub/diagnose/fixtures.rs"]
mod fixtures;

fn shipped() -> Catalogue {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/knowledge");
    Catalogue::load_dir(&dir).unwrap_or_else(|d| panic!("shipped catalogue does not load:\n{d}"))
}

fn errors(text: &str) -> Vec<String> {
    match Catalogue::from_str("k.yaml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
    }
}

#[test]
fn every_shipped_entry_is_exercised_by_a_fixture_that_ranks_it_first() {
    let cat = shipped();
    assert!(cat.entries().len() >= 11, "{} entries", cat.entries().len());
    let fixtures = fixtures::all();
    for entry in cat.entries() {
        let covering: Vec<_> = fixtures
            .iter()
            .filter(|(_, id, _)| *id == entry.id)
            .collect();
        assert!(
            !covering.is_empty(),
            "{}:{}: entry `{}` has no fixture in src/jupyterhub/diagnose/fixtures.rs",
            entry.file,
            entry.line,
            entry.id
        );
        for (name, _, ev) in covering {
            let d = cat.diagnose(ev);
            assert_eq!(
                d.top().map(|f| f.id.as_str()),
                Some(entry.id.as_str()),
                "fixture {name}: {:#?}",
                d
            );
        }
    }
}

#[test]
fn every_catalogue_entry_is_listed_with_its_evidence_in_the_readme_and_the_opspack_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["README.md", "docs/opspack.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for entry in shipped().entries() {
            let row = text
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", entry.id)));
            let Some(row) = row else {
                panic!(
                    "{doc}: the catalogue entry `{}` ({}:{}) has no row `| `{}` | what it is | evidence |` in the catalogue table",
                    entry.id, entry.file, entry.line, entry.id
                );
            };
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert!(
                cells.len() >= 5 && !cells[2].is_empty() && !cells[3].is_empty(),
                "{doc}: the row of `{}` needs what it is and its evidence: {row}",
                entry.id
            );
        }
    }
}

#[test]
fn every_fixture_expects_an_entry_that_exists() {
    let cat = shipped();
    for (name, id, _) in fixtures::all() {
        assert!(
            cat.entries().iter().any(|e| e.id == id),
            "fixture {name} expects unknown entry {id}"
        );
    }
}

#[test]
fn shipped_entries_have_a_reply_without_cluster_jargon() {
    for e in shipped().entries() {
        for word in ["pod", "OOMKilled", "PVC", "taint", "kubelet"] {
            assert!(
                !e.reply.contains(word),
                "{}:{}: the reply of `{}` says `{word}`, which a user will not understand",
                e.file,
                e.line,
                e.id
            );
        }
    }
}

#[test]
fn a_bad_regex_is_reported_at_its_line_and_column() {
    let errs = errors(
        r#"- id: x
  title: t
  when:
    - { source: log, pattern: "(unclosed" }
  cause: c
  fix: f
  reply: r
"#,
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(
        errs[0],
        "k.yaml:4:31: pattern is not a valid regex: unclosed group"
    );
}

#[test]
fn every_problem_in_a_file_is_reported_not_just_the_first() {
    let errs = errors(
        r#"- id: a
  title: t
  when:
    - { source: logs, pattern: "x" }
    - { source: pending_age }
    - { source: deletion_age, older_than: "ten minutes" }
  cause: "{{ oops"
  fix: f
  reply: r
- id: a
  title: t
  cause: c
  fix: f
  reply: r
"#,
    );
    let all = errs.join("\n");
    assert!(
        all.contains("k.yaml:4:17: unknown source `logs`; expected one of pod_phase"),
        "{all}"
    );
    assert!(
        all.contains("k.yaml:5:17: source `pending_age` needs `older_than:`"),
        "{all}"
    );
    assert!(all.contains("k.yaml:6:43: older_than:"), "{all}");
    assert!(
        all.contains("k.yaml:7:10: cause: not a valid template"),
        "{all}"
    );
    assert!(
        all.contains("k.yaml:10:7: entry `a` has no `when:` or `all:` matchers"),
        "{all}"
    );
    assert!(all.contains("duplicate id `a`"), "{all}");
}

#[test]
fn a_misspelt_key_is_reported_with_its_position() {
    let errs = errors("- id: a\n  title: t\n  whenn: []\n  cause: c\n  fix: f\n  reply: r\n");
    assert!(errs[0].starts_with("k.yaml:"), "{errs:#?}");
    assert!(errs[0].contains("whenn"), "{errs:#?}");
}

#[test]
fn a_mapping_instead_of_a_list_says_what_the_file_should_be() {
    let errs = errors("id: a\ntitle: t\n");
    assert!(
        errs[0].contains("a catalogue file is a list of entries"),
        "{errs:#?}"
    );
}

#[test]
fn load_dir_reports_errors_from_every_file_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "- id: a\n  title: t\n  when: [{ source: nope }]\n  cause: c\n  fix: f\n  reply: r\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "- id: b\n  title: t\n  when: [{ source: log, pattern: \"[\" }]\n  cause: c\n  fix: f\n  reply: r\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml: [").unwrap();
    let err = Catalogue::load_dir(dir.path()).unwrap_err();
    assert_eq!(err.0.len(), 2, "{err}");
    assert!(
        err.0[0].file.ends_with("a.yaml") && err.0[0].line == 3,
        "{err}"
    );
    assert!(
        err.0[1].file.ends_with("b.yaml") && err.0[1].line == 3,
        "{err}"
    );
}

#[test]
fn ids_must_be_unique_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let entry =
        "- id: same\n  title: t\n  when: [{ source: log }]\n  cause: c\n  fix: f\n  reply: r\n";
    std::fs::write(dir.path().join("a.yaml"), entry).unwrap();
    std::fs::write(dir.path().join("b.yaml"), entry).unwrap();
    let err = Catalogue::load_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("duplicate id `same`"), "{err}");
}

#[test]
fn pool_capacity_is_usable_from_outside_the_crate() {
    let pools = vec![PoolCapacity {
        name: "user".into(),
        largest_free_cpu_m: 2000,
        largest_free_memory: 8 << 30,
        nodes_ready: 1,
        nodes: 1,
        ..Default::default()
    }];
    let mem = opsbot::jupyterhub::diagnose::bytes("7.5Gi").unwrap();
    assert_eq!(
        opsbot::jupyterhub::diagnose::pool_that_fits(&pools, 1000, mem).as_deref(),
        Some("user")
    );
    let _unused: Option<Evidence> = None;
}
