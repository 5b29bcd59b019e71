//! `opsbot rbac`: the least-privilege ClusterRole that exactly covers what the
//! loaded playbooks do.
//!
//! Each step kind declares the [`Permission`]s it needs; the union over every
//! playbook becomes the ClusterRole's rules: one rule per API group and set of
//! verbs (resources sharing the same verbs are merged), sorted by resource so
//! the output diffs cleanly. When people act as their own Kubernetes user
//! (`kube_user` in the config), opsbot's service account also needs
//! `impersonate` on exactly those users.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::actions::Permission;
use crate::playbook::Playbooks;

/// One RBAC `PolicyRule`, in the field order `kubectl` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    pub verbs: Vec<String>,
}

/// The union of every playbook's permissions.
pub fn permissions(playbooks: &Playbooks) -> BTreeSet<Permission> {
    playbooks.iter().flat_map(|p| p.permissions()).collect()
}

/// Rules covering exactly `perms`, plus `impersonate` on `impersonated` users
/// (none: no impersonation rule).
pub fn rules(perms: &BTreeSet<Permission>, impersonated: &[String]) -> Vec<Rule> {
    // group → resource → verbs
    let mut by_group: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for p in perms.iter().filter(|p| p.name.is_none()) {
        by_group
            .entry(&p.group)
            .or_default()
            .entry(&p.resource)
            .or_default()
            .insert(&p.verb);
    }
    // (group, resource) → verb → names, for the verbs not already granted on all.
    let mut named: BTreeMap<(&str, &str), BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for p in perms {
        let Some(name) = p.name.as_deref() else {
            continue;
        };
        let all = by_group
            .get(p.group.as_str())
            .and_then(|r| r.get(p.resource.as_str()))
            .is_some_and(|v| v.contains(p.verb.as_str()));
        if !all {
            named
                .entry((&p.group, &p.resource))
                .or_default()
                .entry(&p.verb)
                .or_default()
                .insert(name);
        }
    }
    let mut rules = Vec::new();
    for (group, resources) in by_group {
        // verbs → resources, so resources with the same verbs share a rule.
        let mut by_verbs: BTreeMap<Vec<&str>, Vec<&str>> = BTreeMap::new();
        for (resource, verbs) in resources {
            by_verbs
                .entry(verbs.into_iter().collect())
                .or_default()
                .push(resource);
        }
        let mut group_rules: Vec<(Vec<&str>, Vec<&str>)> =
            by_verbs.into_iter().map(|(v, r)| (r, v)).collect();
        group_rules.sort();
        for (resources, verbs) in group_rules {
            rules.push(Rule {
                api_groups: vec![group.to_string()],
                resources: resources.into_iter().map(str::to_string).collect(),
                resource_names: vec![],
                verbs: verbs.into_iter().map(str::to_string).collect(),
            });
        }
    }
    for ((group, resource), verbs) in named {
        // names → verbs, so verbs on the same objects share a rule.
        let mut by_names: BTreeMap<Vec<&str>, Vec<&str>> = BTreeMap::new();
        for (verb, names) in verbs {
            by_names
                .entry(names.into_iter().collect())
                .or_default()
                .push(verb);
        }
        for (names, verbs) in by_names {
            rules.push(Rule {
                api_groups: vec![group.to_string()],
                resources: vec![resource.to_string()],
                resource_names: names.into_iter().map(str::to_string).collect(),
                verbs: verbs.into_iter().map(str::to_string).collect(),
            });
        }
    }
    let users: BTreeSet<&String> = impersonated.iter().collect();
    if !users.is_empty() {
        rules.push(Rule {
            api_groups: vec![String::new()],
            resources: vec!["users".into()],
            resource_names: users.into_iter().cloned().collect(),
            verbs: vec!["impersonate".into()],
        });
    }
    rules
}

/// The ClusterRole manifest (YAML) named `name` with `rules`.
pub fn cluster_role_yaml(name: &str, rules: &[Rule]) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Role<'a> {
        api_version: &'static str,
        kind: &'static str,
        metadata: BTreeMap<&'static str, &'a str>,
        rules: &'a [Rule],
    }
    let role = Role {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: BTreeMap::from([("name", name)]),
        rules,
    };
    let body = serde_yaml::to_string(&role).unwrap_or_default();
    format!("# Generated by `opsbot rbac`: exactly what the enabled playbooks use.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_with_the_same_verbs_share_a_rule_per_api_group() {
        let perms: BTreeSet<Permission> = [
            Permission::new("list", "", "pods"),
            Permission::new("get", "", "pods"),
            Permission::new("get", "", "nodes"),
            Permission::new("list", "", "nodes"),
            Permission::new("get", "", "pods/log"),
            Permission::new("patch", "apps", "deployments"),
        ]
        .into_iter()
        .collect();
        let r = rules(&perms, &["alice".into(), "alice".into()]);
        let want = |g: &str, res: &[&str], verbs: &[&str]| Rule {
            api_groups: vec![g.into()],
            resources: res.iter().map(|s| s.to_string()).collect(),
            resource_names: vec![],
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(r[0], want("", &["nodes", "pods"], &["get", "list"]));
        assert_eq!(r[1], want("", &["pods/log"], &["get"]));
        assert_eq!(r[2], want("apps", &["deployments"], &["patch"]));
        assert_eq!(r[3].verbs, ["impersonate"]);
        assert_eq!(r[3].resource_names, ["alice"]);
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn a_named_permission_is_its_own_rule_unless_the_verb_is_granted_on_all() {
        let status = "cluster-autoscaler-status";
        let perms: BTreeSet<Permission> = [
            Permission::new("list", "", "pods"),
            Permission::named("get", "", "configmaps", status),
            Permission::named("list", "", "pods", "subsumed"),
        ]
        .into_iter()
        .collect();
        let r = rules(&perms, &[]);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].resources, ["pods"]);
        assert_eq!(r[0].verbs, ["list"]);
        assert!(r[0].resource_names.is_empty());
        assert_eq!(r[1].resources, ["configmaps"]);
        assert_eq!(r[1].resource_names, [status]);
        assert_eq!(r[1].verbs, ["get"]);
        // once `get` is granted on every configmap, the named rule is redundant
        let mut perms = perms;
        perms.insert(Permission::new("get", "", "configmaps"));
        let r = rules(&perms, &[]);
        assert!(r.iter().all(|r| r.resource_names.is_empty()), "{r:?}");
    }
}
