//! The sections that describe the fleet and who may act on it: `listen`,
//! `clusters`, `hubs`, `roles`, `people` and `policy`. Each function resolves
//! one section, reports every problem in it at its `file:line:col`, and
//! returns what was valid so later sections can still be checked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

use super::{
    expand, in_file_order, suggest, Ctx, RawCluster, RawHub, RawPerson, RawPolicy, RawPrometheus,
    RawRole, RawScope, S,
};
use crate::config::{
    ClusterConfig, ClusterSource, HubConfig, JupyterHubApi, Person, Policy, PrometheusConfig, Role,
    Scope,
};
use crate::diagnostic::Spanned;

/// `listen:` as an address; `localhost:PORT` is accepted too.
pub(super) fn listen(cx: &mut Ctx<'_>, raw: &S) -> Option<SocketAddr> {
    let s = cx.string("listen", raw)?;
    let s = s.trim();
    let parsed = s.parse::<SocketAddr>().ok().or_else(|| {
        s.strip_prefix("localhost:")
            .and_then(|p| p.parse::<u16>().ok())
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
    });
    if parsed.is_none() {
        cx.err(
            raw.span(),
            format!("listen: `{s}` is not an address; write IP:PORT such as `127.0.0.1:8080`"),
        );
    }
    parsed
}

/// `clusters:` with unique names, each reached in-cluster or by kubeconfig.
pub(super) fn clusters(cx: &mut Ctx<'_>, raw: &[Spanned<RawCluster>]) -> Vec<ClusterConfig> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for c in raw {
        let Some(name) = cx.name("clusters[].name", &c.name) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            cx.err(
                c.name.span(),
                format!("cluster `{name}` is defined twice; cluster names must be unique"),
            );
            continue;
        }
        let source = cluster_source(cx, &name, c);
        let prometheus = c.prometheus.as_ref().and_then(|p| prometheus(cx, &name, p));
        let mut watch_cache_max_objects = crate::cluster::cache::DEFAULT_MAX_OBJECTS;
        if let Some(raw) = &c.watch_cache_max_objects {
            match raw.trim().replace('_', "").parse::<usize>() {
                Ok(n) if n > 0 => watch_cache_max_objects = n,
                _ => cx.err(
                    raw.span(),
                    format!("cluster `{name}`: watch_cache_max_objects `{}` is not a positive number of objects; write e.g. `50000`", raw.trim()),
                ),
            }
        }
        out.push(ClusterConfig {
            name,
            source,
            prometheus,
            watch_cache_max_objects,
        });
    }
    out
}

/// A cluster's `prometheus:`: an http(s) URL, an optional bearer token
/// (a `${ENV}` or `${file:PATH}` reference, never literal) and how long a
/// query may take (default 30s).
fn prometheus(cx: &mut Ctx<'_>, cluster: &str, p: &RawPrometheus) -> Option<PrometheusConfig> {
    // Every field is checked before giving up, so one run of `opsbot
    // check` reports all of them.
    let url = cx.name("clusters[].prometheus.url", &p.url).filter(|u| {
        let ok = u.starts_with("http://") || u.starts_with("https://");
        if !ok {
            cx.err(
                p.url.span(),
                format!("cluster `{cluster}`: prometheus.url `{u}` is not an http(s) URL; write e.g. `http://prometheus-server.monitoring:80`"),
            );
        }
        ok
    });
    let token = p
        .token
        .as_ref()
        .map(|t| cx.secret("clusters[].prometheus.token", t));
    let timeout = match &p.timeout {
        None => Some(PrometheusConfig::DEFAULT_TIMEOUT),
        Some(t) => cx.string("clusters[].prometheus.timeout", t).and_then(|s| {
            match humantime::parse_duration(s.trim()) {
                Ok(d) if !d.is_zero() => Some(d),
                _ => {
                    cx.err(
                        t.span(),
                        format!("cluster `{cluster}`: prometheus.timeout `{s}` is not a positive duration; write e.g. `10s`"),
                    );
                    None
                }
            }
        }),
    };
    let token = match token {
        None => None,
        Some(t) => Some(t?),
    };
    Some(PrometheusConfig {
        url: url?.trim_end_matches('/').to_string(),
        token,
        timeout: timeout?,
    })
}

fn cluster_source(cx: &mut Ctx<'_>, name: &str, c: &Spanned<RawCluster>) -> ClusterSource {
    if c.in_cluster {
        if c.kubeconfig.is_some() || c.context.is_some() {
            cx.err(
                c.span(),
                format!("cluster `{name}`: `in_cluster: true` cannot be combined with `kubeconfig`/`context`; keep one of them"),
            );
        }
        return ClusterSource::InCluster;
    }
    let (base_dir, env) = (cx.base_dir, cx.env);
    let path = c.kubeconfig.as_ref().and_then(|k| {
        cx.name("kubeconfig", k)
            .map(|p| expand::resolve_path(&p, base_dir, env))
    });
    let context = c.context.as_ref().and_then(|k| cx.name("context", k));
    ClusterSource::Kubeconfig { path, context }
}

/// `hubs:` with unique names, each on a declared cluster.
pub(super) fn hubs(
    cx: &mut Ctx<'_>,
    raw: &[Spanned<RawHub>],
    cluster_names: &HashSet<String>,
) -> Vec<HubConfig> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for h in raw {
        let name = cx.name("hubs[].name", &h.name);
        let cluster = cx.name("hubs[].cluster", &h.cluster);
        let namespace = cx.name("hubs[].namespace", &h.namespace);
        if let Some(c) = &cluster {
            if !cluster_names.contains(c) {
                let msg = format!(
                    "hub cluster `{c}` is not defined under `clusters`{}",
                    suggest(c, cluster_names.iter().map(String::as_str), "clusters")
                );
                cx.err(h.cluster.span(), msg);
            }
        }
        let api = hub_api(cx, h);
        let (Some(name), Some(cluster), Some(namespace)) = (name, cluster, namespace) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            cx.err(
                h.name.span(),
                format!("hub `{name}` is defined twice; hub names must be unique"),
            );
            continue;
        }
        out.push(HubConfig {
            name,
            cluster,
            namespace,
            jupyterhub_api: api,
        });
    }
    out
}

/// A hub's `jupyterhub_api:` (its token must be a reference, not a literal).
fn hub_api(cx: &mut Ctx<'_>, h: &RawHub) -> Option<JupyterHubApi> {
    let a = h.jupyterhub_api.as_ref()?;
    let url = cx.name("jupyterhub_api.url", &a.url);
    let token = cx.secret("jupyterhub_api.token", &a.token);
    Some(JupyterHubApi {
        url: url?.trim_end_matches('/').to_string(),
        token: token?,
    })
}

/// What role scopes may name: declared hubs and clusters (any hub when hubs
/// are discovered at runtime).
pub(super) struct Known<'a> {
    pub hubs: &'a HashSet<String>,
    pub clusters: &'a HashSet<String>,
    pub discover_hubs: bool,
}

/// `roles:`, in file order; each must grant something.
pub(super) fn roles(
    cx: &mut Ctx<'_>,
    raw: &HashMap<S, RawRole>,
    known: &Known<'_>,
) -> BTreeMap<String, Role> {
    let mut out = BTreeMap::new();
    for (key, r) in in_file_order(raw) {
        let name = key.trim().to_string();
        if name.is_empty() {
            cx.err(key.span(), "a role needs a name");
            continue;
        }
        if r.run.is_empty() && r.approve.is_empty() {
            cx.err(
                key.span(),
                format!("role `{name}` grants nothing; give it `run: [...]` and/or `approve: [...]` command patterns"),
            );
        }
        let run = cx.patterns(&format!("roles.{name}.run"), &r.run);
        let approve = cx.patterns(&format!("roles.{name}.approve"), &r.approve);
        let scope = match &r.scope {
            Some(s) => role_scope(cx, &name, s, known),
            None => Scope::default(),
        };
        out.insert(
            name,
            Role {
                run,
                approve,
                scope,
            },
        );
    }
    out
}

/// A role's `scope:`; `*` means anywhere.
fn role_scope(cx: &mut Ctx<'_>, role: &str, s: &RawScope, known: &Known<'_>) -> Scope {
    let mut scope = Scope::default();
    for h in &s.hubs {
        let h_name = h.trim().to_string();
        if h_name != "*" && !known.hubs.contains(&h_name) && !known.discover_hubs {
            let msg = format!(
                "roles.{role}.scope.hubs: hub `{h_name}` is not defined under `hubs` (and `discover_hubs` is off){}",
                suggest(&h_name, known.hubs.iter().map(String::as_str), "hubs")
            );
            cx.err(h.span(), msg);
        }
        scope.hubs.push(h_name);
    }
    for c in &s.clusters {
        let c_name = c.trim().to_string();
        if c_name != "*" && !known.clusters.contains(&c_name) {
            let msg =
                format!(
                "roles.{role}.scope.clusters: cluster `{c_name}` is not defined under `clusters`{}",
                suggest(&c_name, known.clusters.iter().map(String::as_str), "clusters")
            );
            cx.err(c.span(), msg);
        }
        scope.clusters.push(c_name);
    }
    scope
}

/// `people:` with unique ids and platform identities that belong to one
/// person each (GitHub logins compared case-insensitively).
pub(super) fn people(
    cx: &mut Ctx<'_>,
    raw: &[Spanned<RawPerson>],
    role_names: &HashSet<String>,
) -> Vec<Person> {
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    let mut owners = IdentityOwners::default();
    for p in raw {
        let Some(id) = cx.name("people[].id", &p.id) else {
            continue;
        };
        if !ids.insert(id.clone()) {
            cx.err(
                p.id.span(),
                format!("person `{id}` is defined twice; people ids must be unique"),
            );
            continue;
        }
        let slack = owners.claim(cx, &id, "slack", &p.slack);
        let github = owners.claim(cx, &id, "github", &p.github);
        if let (Some(g), Some(raw)) = (&github, &p.github) {
            // Matched by account id: a login GitHub would accept, or `id:N`.
            let ok = match g.strip_prefix("id:") {
                Some(n) => n.trim().parse::<u64>().is_ok(),
                None => {
                    !g.is_empty()
                        && g.len() <= 39
                        && g.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !g.starts_with('-')
                        && !g.ends_with('-')
                        && !g.contains("--")
                }
            };
            if !ok {
                cx.err(
                    raw.span(),
                    format!("people.{id}.github: `{g}` is neither a GitHub login nor `id:NUMBER`; write the login (letters, digits, single hyphens) or the account id as `id:583231`"),
                );
            }
        }
        let discord = owners.claim(cx, &id, "discord", &p.discord);
        let name = p.name.as_ref().and_then(|n| cx.string("name", n));
        let kube_user = p.kube_user.as_ref().and_then(|n| cx.name("kube_user", n));
        let roles = cx.role_refs(&format!("people.{id}.roles"), &p.roles, role_names);
        out.push(Person {
            id,
            name,
            slack,
            github,
            discord,
            kube_user,
            roles,
        });
    }
    out
}

/// Which person each platform identity seen so far belongs to.
#[derive(Default)]
struct IdentityOwners(HashMap<(&'static str, String), String>);

impl IdentityOwners {
    /// `person`'s identity on `platform`, reported when someone else has it.
    fn claim(
        &mut self,
        cx: &mut Ctx<'_>,
        person: &str,
        platform: &'static str,
        v: &Option<S>,
    ) -> Option<String> {
        let v = v.as_ref()?;
        let s = cx.name(platform, v)?;
        let key = if platform == "github" {
            s.to_ascii_lowercase()
        } else {
            s.clone()
        };
        if let Some(other) = self.0.insert((platform, key), person.to_string()) {
            cx.err(
                v.span(),
                format!("{platform} id `{s}` of `{person}` is already used by `{other}`; each {platform} identity belongs to one person"),
            );
        }
        Some(s)
    }
}

/// `policy:` over the defaults (a 1h approval TTL, `help` always allowed).
pub(super) fn policy(cx: &mut Ctx<'_>, raw: Option<&RawPolicy>) -> Policy {
    let mut policy = Policy::default();
    let Some(pol) = raw else {
        return policy;
    };
    if let Some(ttl) = &pol.approval_ttl {
        if let Some(s) = cx.string("policy.approval_ttl", ttl) {
            match humantime::parse_duration(s.trim()) {
                Ok(d) if !d.is_zero() => policy.approval_ttl = d,
                _ => cx.err(
                    ttl.span(),
                    format!("policy.approval_ttl: `{s}` is not a positive duration; write e.g. `30m` or `1h`"),
                ),
            }
        }
    }
    policy.exempt_from_approval =
        cx.patterns("policy.exempt_from_approval", &pol.exempt_from_approval);
    if let Some(a) = &pol.always_allowed {
        policy.always_allowed = cx.patterns("policy.always_allowed", a);
    }
    policy
}
