//! Authentication (bearer token → simulated user) and RBAC-like
//! authorization, with `Impersonate-User` for users allowed to impersonate.

use serde::Deserialize;

use super::status::ApiError;

/// The admin token every seed gets unless it defines its own admin.
pub const ADMIN_TOKEN: &str = "opsbot-sim-admin";

/// One simulated user (from `sim.yaml` `users:`).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    pub token: Option<String>,
    pub groups: Vec<String>,
    pub rules: Vec<Rule>,
    pub impersonate: bool,
}

/// Verbs × resources × namespaces, each a list or `*`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub resources: Vec<String>,
    pub namespaces: Vec<String>,
}

impl UserSpec {
    /// The default all-powerful admin.
    pub fn admin() -> Self {
        UserSpec {
            name: "admin".into(),
            token: Some(ADMIN_TOKEN.into()),
            groups: vec!["system:masters".into()],
            rules: vec![Rule {
                verbs: vec!["*".into()],
                resources: vec!["*".into()],
                namespaces: vec!["*".into()],
            }],
            impersonate: true,
        }
    }

    /// Whether a rule allows `verb` on `resource` (`pods` or `pods/log`) in `ns` (None = cluster scope).
    /// As in RBAC, `*` matches every resource and subresource.
    pub fn allows(&self, verb: &str, resource: &str, ns: Option<&str>) -> bool {
        self.rules.iter().any(|r| {
            let has = |l: &[String], v: &str| l.iter().any(|x| x == "*" || x == v);
            has(&r.verbs, verb)
                && r.resources
                    .iter()
                    .any(|x| x == "*" || x == "*/*" || x == resource)
                && match ns {
                    None => r.namespaces.iter().any(|x| x == "*"),
                    Some(n) => has(&r.namespaces, n),
                }
        })
    }
}

/// The user table of one cluster.
#[derive(Debug, Clone, Default)]
pub struct Users(pub Vec<UserSpec>);

impl Users {
    /// From `sim.yaml`, adding the default admin when no user holds its token.
    pub fn new(mut users: Vec<UserSpec>) -> Self {
        if !users
            .iter()
            .any(|u| u.token.as_deref() == Some(ADMIN_TOKEN))
        {
            users.insert(0, UserSpec::admin());
        }
        Users(users)
    }

    /// The user of a bearer token.
    pub fn by_token(&self, token: &str) -> Option<&UserSpec> {
        self.0.iter().find(|u| u.token.as_deref() == Some(token))
    }

    /// A user by name (impersonation targets); unknown names get no rules.
    pub fn by_name(&self, name: &str) -> UserSpec {
        self.0
            .iter()
            .find(|u| u.name == name)
            .cloned()
            .unwrap_or_else(|| UserSpec {
                name: name.into(),
                ..Default::default()
            })
    }

    /// The admin token (first user with full rights and a token).
    pub fn admin_token(&self) -> String {
        ADMIN_TOKEN.to_string()
    }
}

/// `pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"`.
pub fn forbidden(
    user: &str,
    verb: &str,
    group: &str,
    resource: &str,
    name: Option<&str>,
    ns: Option<&str>,
) -> ApiError {
    let (plural, sub) = match resource.split_once('/') {
        Some((p, s)) => (p, Some(s)),
        None => (resource, None),
    };
    let qual = if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    };
    let subject = match name {
        Some(n) => format!("{qual} \"{n}\""),
        None => qual,
    };
    let scope = match ns {
        Some(n) => format!("in the namespace \"{n}\""),
        None => "at the cluster scope".to_string(),
    };
    let mut e = ApiError::new(
        403,
        "Forbidden",
        format!("{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"),
    );
    let mut d = serde_json::json!({"kind": plural});
    if let Some(n) = name {
        d["name"] = n.into();
    }
    if !group.is_empty() {
        d["group"] = group.into();
    }
    let _ = sub;
    e.details = Some(d);
    e
}
