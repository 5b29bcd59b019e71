//! Label and field selector semantics the simulator filters lists and watches with.

use opsbot_sim::selector::{FieldSelector, LabelSelector};
use serde_json::json;

fn obj() -> serde_json::Value {
    json!({"metadata": {"name": "jupyter-a", "namespace": "staging", "labels": {"app": "jupyterhub", "component": "singleuser-server", "tier": "gold"}},
        "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
}

#[test]
fn equality_inequality_and_double_equals() {
    assert!(LabelSelector::parse("app=jupyterhub")
        .unwrap()
        .matches(&obj()));
    assert!(
        LabelSelector::parse("app==jupyterhub,component=singleuser-server")
            .unwrap()
            .matches(&obj())
    );
    assert!(!LabelSelector::parse("app!=jupyterhub")
        .unwrap()
        .matches(&obj()));
    assert!(
        LabelSelector::parse("missing!=x").unwrap().matches(&obj()),
        "!= matches objects without the label"
    );
}

#[test]
fn set_based_and_existence_requirements() {
    assert!(LabelSelector::parse("tier in (gold, silver)")
        .unwrap()
        .matches(&obj()));
    assert!(!LabelSelector::parse("tier notin (gold)")
        .unwrap()
        .matches(&obj()));
    assert!(LabelSelector::parse("other notin (x)")
        .unwrap()
        .matches(&obj()));
    assert!(LabelSelector::parse("tier,app in (jupyterhub)")
        .unwrap()
        .matches(&obj()));
    assert!(LabelSelector::parse("!hub.jupyter.org/username")
        .unwrap()
        .matches(&obj()));
    assert!(!LabelSelector::parse("!tier").unwrap().matches(&obj()));
    assert!(LabelSelector::parse("").unwrap().matches(&obj()));
}

#[test]
fn malformed_selectors_are_rejected() {
    assert!(LabelSelector::parse("tier in gold").is_err());
    assert!(FieldSelector::parse("status.phase").is_err());
}

#[test]
fn field_selectors_compare_dotted_paths() {
    assert!(
        FieldSelector::parse("status.phase=Running,spec.nodeName=n1")
            .unwrap()
            .matches(&obj())
    );
    assert!(FieldSelector::parse("metadata.namespace!=kube-system")
        .unwrap()
        .matches(&obj()));
    assert!(!FieldSelector::parse("metadata.name==other")
        .unwrap()
        .matches(&obj()));
    assert!(
        FieldSelector::parse("spec.missing=")
            .unwrap()
            .matches(&obj()),
        "missing fields compare as empty"
    );
}
