//! A generated fleet (`opsbot sim --synthetic CLUSTERSxHUBSxUSERS`): the
//! size our users run (10 × 10 × 100 is 10,000 user servers), built in
//! memory from the shapes of `examples/fleet/aws-us` instead of read from a
//! seed directory, so scale is measured against objects as real as the
//! hand-written ones.
//!
//! Per cluster: two core nodes, enough user nodes for its servers and, on
//! every third cluster, one more user node that is NotReady. Per hub: a
//! namespace with the whole zero-to-jupyterhub 4.1.0 release of
//! `templates.yaml` (hub, proxy and user-scheduler Deployments, whose pods
//! the controller creates, services, config). Per user: a server pod with
//! its events, Running for most and, deterministically, Pending on
//! FailedScheduling (too much memory asked), Pending in ImagePullBackOff or
//! Running in CrashLoopBackOff ([`Shape::user_state`]). The same shape
//! always gives the same fleet: names, uids, nodes and addresses; only the
//! timestamps follow the clock, as ages.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::seed::{Seed, SeedCluster};

/// The objects the generator clones (see the file's header).
const TEMPLATES: &str = include_str!("synthetic/templates.yaml");

/// How many user servers share one user node (2 GiB each on a 62 GiB node).
const USERS_PER_NODE: usize = 25;

/// Names people have, for user servers that read like a fleet's.
const FIRST_NAMES: [&str; 32] = [
    "ada", "ben", "chen", "dana", "emil", "fatima", "gus", "hana", "ivan", "jon", "kemal", "lena",
    "mo", "nia", "omar", "pia", "quinn", "ravi", "sara", "tom", "uma", "vic", "wen", "xena",
    "yusuf", "zoe", "amir", "bea", "cyril", "dora", "eli", "flo",
];

/// `CLUSTERSxHUBSxUSERS`: clusters, hubs per cluster, user servers per hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub clusters: usize,
    pub hubs: usize,
    pub users: usize,
}

/// What a user's server is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    Running,
    /// Pending: asks for more memory than any node has (FailedScheduling).
    Unschedulable,
    /// Pending: the image tag does not exist (ImagePullBackOff).
    ImagePullBackOff,
    /// Running, its container restarting (CrashLoopBackOff).
    CrashLoopBackOff,
}

impl UserState {
    /// Whether the pod's phase is Pending.
    pub fn is_pending(self) -> bool {
        matches!(self, UserState::Unschedulable | UserState::ImagePullBackOff)
    }

    /// The template pod (`templates.yaml`) this state is cloned from.
    fn template(self) -> &'static str {
        match self {
            UserState::Running => "alice",
            UserState::ImagePullBackOff => "dave",
            UserState::Unschedulable => "erin",
            UserState::CrashLoopBackOff => "frank",
        }
    }
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Shape, String> {
        let wrong = || {
            format!("--synthetic {s:?}: write CLUSTERSxHUBSxUSERS with each at least 1, such as 10x10x100")
        };
        let parts: Vec<usize> = s
            .split('x')
            .map(|p| p.trim().parse::<usize>().map_err(|_| wrong()))
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [clusters, hubs, users] if clusters > 0 && hubs > 0 && users > 0 => {
                if clusters > 99 || hubs > 99 || users > 9999 {
                    return Err(format!(
                        "--synthetic {s:?}: at most 99 clusters, 99 hubs per cluster and 9999 users per hub"
                    ));
                }
                Ok(Shape {
                    clusters,
                    hubs,
                    users,
                })
            }
            _ => Err(wrong()),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.clusters, self.hubs, self.users)
    }
}

impl Shape {
    /// Cluster `c` (from 0): `c00`, `c01`, ...
    pub fn cluster_name(&self, c: usize) -> String {
        format!("c{c:02}")
    }

    /// Hub `h` of cluster `c`, also its namespace and Helm release: `c00-hub03`.
    pub fn hub_name(&self, c: usize, h: usize) -> String {
        format!("c{c:02}-hub{h:02}")
    }

    /// User `u` of every hub: `ada`, `ben`, ..., then `ada1`, `ben1`, ...
    pub fn user_name(&self, u: usize) -> String {
        let first = FIRST_NAMES[u % FIRST_NAMES.len()];
        match u / FIRST_NAMES.len() {
            0 => first.to_string(),
            n => format!("{first}{n}"),
        }
    }

    /// The state of user `u` on hub `h` of cluster `c`: 4 in 25 Pending on
    /// FailedScheduling, 4 in 25 in ImagePullBackOff, 4 in 25 in
    /// CrashLoopBackOff, the rest Running; which users shifts by hub and cluster.
    pub fn user_state(&self, c: usize, h: usize, u: usize) -> UserState {
        match (u + h + c) % 25 {
            0 => UserState::Unschedulable,
            1 => UserState::ImagePullBackOff,
            2 => UserState::CrashLoopBackOff,
            _ => UserState::Running,
        }
    }

    /// How many user nodes cluster `c` has (the NotReady one included).
    fn user_nodes(&self, c: usize) -> (usize, bool) {
        let ready = (self.hubs * self.users).div_ceil(USERS_PER_NODE).max(2);
        (ready, c % 3 == 1)
    }

    /// The whole fleet as a seed (what `Fleet::start` runs).
    pub fn seed(&self) -> Seed {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let all: Vec<usize> = (0..self.clusters).collect();
        let chunk = all.len().div_ceil(threads).max(1);
        let clusters = std::thread::scope(|scope| {
            let parts: Vec<_> = all
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|&c| self.cluster(c)).collect::<Vec<_>>())
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().expect("generating a cluster does not panic"))
                .collect()
        });
        Seed { clusters }
    }

    fn cluster(&self, c: usize) -> SeedCluster {
        let t = templates();
        let mut objects = Vec::new();
        let (ready, not_ready) = self.user_nodes(c);
        let nodes: Vec<Node> = (0..2)
            .map(|i| Node::new(c, 0, i))
            .chain((0..ready + usize::from(not_ready)).map(|i| Node::new(c, 1, i)))
            .collect();
        for (i, n) in nodes.iter().enumerate() {
            let template = if n.pool == 0 {
                &t.core_node
            } else if i >= 2 + ready {
                &t.not_ready_node
            } else {
                &t.user_node
            };
            let mut o = template.clone();
            let mut names = Renames::default();
            names.add(&t.node_prefix[n.template_slot(i >= 2 + ready)], &n.prefix);
            names.add(&t.node_ip[n.template_slot(i >= 2 + ready)], &n.ip);
            names.apply(&mut o);
            o["status"]["nodeInfo"]["systemUUID"] = json!(uid(&["node", &n.prefix]));
            o["status"]["nodeInfo"]["machineID"] = json!(hex(&["machine", &n.prefix], 32));
            objects.push(o);
        }
        let user_nodes: Vec<&Node> = nodes[2..2 + ready].iter().collect();
        let total = nodes.len();
        for h in 0..self.hubs {
            let hub = self.hub_name(c, h);
            let mut names = Renames::default();
            names.add("staging", &hub);
            for o in &t.hub {
                let mut o = o.clone();
                names.apply(&mut o);
                objects.push(o);
            }
            for u in 0..self.users {
                let state = self.user_state(c, h, u);
                let node = user_nodes[(h * self.users + u) % user_nodes.len()];
                self.user_server(&hub, c, h, u, state, node, total, &mut objects);
            }
        }
        SeedCluster {
            name: self.cluster_name(c),
            settings: Default::default(),
            objects,
        }
    }

    /// The pod of one user and its events, renamed from the state's template.
    #[allow(clippy::too_many_arguments)]
    fn user_server(
        &self,
        hub: &str,
        c: usize,
        h: usize,
        u: usize,
        state: UserState,
        node: &Node,
        nodes: usize,
        out: &mut Vec<Value>,
    ) {
        let t = templates();
        let user = self.user_name(u);
        let key = [hub, &user];
        let tpl = &t.users[state.template()];
        let mut names = Renames::default();
        names.add(&tpl.uid, &uid(&key));
        names.add("staging", hub);
        names.add(
            &format!("jupyter-{}", state.template()),
            &format!("jupyter-{user}"),
        );
        names.add(
            &format!("volume-{}", state.template()),
            &format!("volume-{user}"),
        );
        names.add(
            &format!("claim-{}", state.template()),
            &format!("claim-{user}"),
        );
        names.add(
            &format!("/user/{}/", state.template()),
            &format!("/user/{user}/"),
        );
        names.add(&t.node_prefix[1], &node.prefix);
        names.add(&t.node_ip[1], &node.ip);
        let seq = h * self.users + u;
        names.add(
            &tpl.pod_ip,
            &format!("10.{}.{}.{}", 64 + c, seq / 250, seq % 250 + 2),
        );
        for (i, id) in tpl.container_ids.iter().enumerate() {
            names.add(id, &hex(&[hub, &user, &i.to_string()], 64));
        }
        let mut pod = tpl.pod.clone();
        names.apply(&mut pod);
        // The user name in values that are exactly it (labels, env).
        rename_exact(&mut pod, state.template(), &user);
        let unschedulable = scheduling_message(nodes);
        if state == UserState::Unschedulable {
            if let Some(conds) = pod["status"]["conditions"].as_array_mut() {
                for cond in conds.iter_mut().filter(|c| c["type"] == "PodScheduled") {
                    cond["message"] = json!(unschedulable);
                }
            }
        }
        out.push(pod);
        for ev in &tpl.events {
            let mut ev = ev.clone();
            names.apply(&mut ev);
            if ev["reason"] == "FailedScheduling" {
                ev["message"] = json!(unschedulable);
            }
            out.push(ev);
        }
    }
}

/// What the scheduler says of a server asking more memory than any node has.
fn scheduling_message(nodes: usize) -> String {
    let users = nodes - 2;
    format!(
        "0/{nodes} nodes are available: 2 node(s) had untolerated taint {{hub.jupyter.org/dedicated: core}}, {users} Insufficient memory. \
         preemption: 0/{nodes} nodes are available: 2 Preemption is not helpful for scheduling, {users} No preemption victims found for incoming pod."
    )
}

/// A node's generated identity: `ip-10-<c>-<pool>-<i>` style name and address.
struct Node {
    pool: usize,
    prefix: String,
    ip: String,
}

impl Node {
    fn new(c: usize, pool: usize, i: usize) -> Node {
        let third = 16 + pool * 64 + i / 250;
        let fourth = i % 250 + 4;
        Node {
            pool,
            prefix: format!("ip-10-{c}-{third}-{fourth}"),
            ip: format!("10.{c}.{third}.{fourth}"),
        }
    }

    /// Index into the template names: 0 core, 1 user, 2 NotReady user.
    fn template_slot(&self, not_ready: bool) -> usize {
        match (self.pool, not_ready) {
            (0, _) => 0,
            (_, false) => 1,
            (_, true) => 2,
        }
    }
}

/// The parsed `templates.yaml`, with the names the generator replaces.
struct Templates {
    core_node: Value,
    user_node: Value,
    not_ready_node: Value,
    /// `ip-10-0-12-34` of the core, user and NotReady template nodes.
    node_prefix: [String; 3],
    /// Their addresses.
    node_ip: [String; 3],
    /// Every object of the `staging` release.
    hub: Vec<Value>,
    /// By template user (`alice`, `dave`, `erin`, `frank`).
    users: std::collections::HashMap<&'static str, UserTemplate>,
}

struct UserTemplate {
    pod: Value,
    events: Vec<Value>,
    uid: String,
    pod_ip: String,
    container_ids: Vec<String>,
}

fn templates() -> &'static Templates {
    static T: OnceLock<Templates> = OnceLock::new();
    T.get_or_init(|| {
        let seed = Seed::from_files(
            vec![("t".into(), "templates.yaml".into(), TEMPLATES.into())],
            Vec::new(),
        )
        .expect("the embedded synthetic templates parse (synthetic::tests)");
        let objects = seed.clusters.into_iter().next().unwrap_or_default().objects;
        let nodes: Vec<Value> = objects
            .iter()
            .filter(|o| o["kind"] == "Node")
            .cloned()
            .collect();
        let name = |o: &Value| o["metadata"]["name"].as_str().unwrap_or("").to_string();
        let prefix = |o: &Value| name(o).split('.').next().unwrap_or("").to_string();
        let ip = |o: &Value| {
            o["status"]["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
                .and_then(|x| x["address"].as_str())
                .unwrap_or("")
                .to_string()
        };
        let mut users = std::collections::HashMap::new();
        for tpl in ["alice", "dave", "erin", "frank"] {
            let pod_name = format!("jupyter-{tpl}");
            let pod = objects
                .iter()
                .find(|o| o["kind"] == "Pod" && name(o) == pod_name)
                .cloned()
                .unwrap_or_default();
            let events = objects
                .iter()
                .filter(|o| o["kind"] == "Event" && o["involvedObject"]["name"] == pod_name)
                .cloned()
                .collect();
            let mut container_ids = Vec::new();
            collect_container_ids(&pod, &mut container_ids);
            users.insert(
                tpl,
                UserTemplate {
                    uid: pod["metadata"]["uid"].as_str().unwrap_or("").to_string(),
                    pod_ip: pod["status"]["podIP"].as_str().unwrap_or("").to_string(),
                    container_ids,
                    pod,
                    events,
                },
            );
        }
        Templates {
            node_prefix: [prefix(&nodes[0]), prefix(&nodes[1]), prefix(&nodes[2])],
            node_ip: [ip(&nodes[0]), ip(&nodes[1]), ip(&nodes[2])],
            core_node: nodes[0].clone(),
            user_node: nodes[1].clone(),
            not_ready_node: nodes[2].clone(),
            hub: objects
                .iter()
                .filter(|o| o["kind"] != "Node" && o["kind"] != "Pod" && o["kind"] != "Event")
                .cloned()
                .collect(),
            users,
        }
    })
}

/// The hex part of every `containerID` (`containerd://<hex>`) in an object.
fn collect_container_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("containerID", Some(s)) => {
                        if let Some((_, id)) = s.split_once("://") {
                            out.push(id.to_string());
                        }
                    }
                    _ => collect_container_ids(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_container_ids(x, out)),
        _ => {}
    }
}

/// Substring replacements applied to every string of an object.
#[derive(Default)]
struct Renames(Vec<(String, String)>);

impl Renames {
    fn add(&mut self, from: &str, to: &str) {
        if !from.is_empty() {
            self.0.push((from.to_string(), to.to_string()));
        }
    }

    fn apply(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                for (from, to) in &self.0 {
                    if s.contains(from.as_str()) {
                        *s = s.replace(from.as_str(), to);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.apply(x)),
            Value::Object(m) => {
                m.values_mut().for_each(|x| self.apply(x));
            }
            _ => {}
        }
    }
}

/// Replace string values equal to `from` (a bare user name) with `to`.
fn rename_exact(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s == from => *s = to.to_string(),
        Value::Array(a) => a.iter_mut().for_each(|x| rename_exact(x, from, to)),
        Value::Object(m) => m.values_mut().for_each(|x| rename_exact(x, from, to)),
        _ => {}
    }
}

/// FNV-1a over the parts, stretched by splitmix64: stable across runs and platforms.
fn hash(parts: &[&str], round: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ round;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` hex digits derived from the parts.
fn hex(parts: &[&str], len: usize) -> String {
    let mut s = String::with_capacity(len + 16);
    let mut round = 0;
    while s.len() < len {
        s.push_str(&format!("{:016x}", hash(parts, round)));
        round += 1;
    }
    s.truncate(len);
    s
}

/// A version-4-shaped UUID derived from the parts.
fn uid(parts: &[&str]) -> String {
    let h = hex(parts, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// An `opsbot.yaml` for the fleet: every cluster through `kubeconfig` (one
/// context each, as `opsbot sim --kubeconfig` writes it), every hub, a SQLite
/// audit log at `audit`, the pack built into the binary, and one person
/// `sre` who may run and approve everything (`opsbot run --as sre`).
pub fn opsbot_config(
    shape: &Shape,
    kubeconfig: &std::path::Path,
    audit: &std::path::Path,
) -> String {
    let mut out = format!(
        "# Written by `opsbot sim --synthetic {shape}`: the generated fleet, for `opsbot run --config THIS --as sre \"pending all\"`.\n\
         audit: {{ url: \"sqlite://{}\" }}\nclusters:\n",
        audit.display()
    );
    for c in 0..shape.clusters {
        let name = shape.cluster_name(c);
        out.push_str(&format!(
            "  - {{ name: {name}, kubeconfig: \"{}\", context: {name} }}\n",
            kubeconfig.display()
        ));
    }
    out.push_str("hubs:\n");
    for c in 0..shape.clusters {
        for h in 0..shape.hubs {
            let hub = shape.hub_name(c, h);
            out.push_str(&format!(
                "  - {{ name: {hub}, cluster: {}, namespace: {hub} }}\n",
                shape.cluster_name(c)
            ));
        }
    }
    out.push_str("people:\n  - { id: sre, roles: [engineer] }\nroles:\n  engineer: { run: [\"*\"], approve: [\"*\"] }\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_parses_and_a_wrong_one_says_what_to_write() {
        assert_eq!(
            "10x10x100".parse::<Shape>(),
            Ok(Shape {
                clusters: 10,
                hubs: 10,
                users: 100
            })
        );
        for bad in ["10x10", "0x1x1", "ax1x1", "1x1x1x1", ""] {
            let e = bad.parse::<Shape>().unwrap_err();
            assert!(e.contains("CLUSTERSxHUBSxUSERS"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_same_shape_gives_the_same_fleet_with_unique_names_and_uids() {
        let shape: Shape = "2x3x30".parse().unwrap();
        let a = shape.seed();
        let b = shape.seed();
        let strip = |s: &Seed| -> Vec<Value> {
            s.clusters
                .iter()
                .flat_map(|c| c.objects.iter())
                .map(|o| {
                    let mut o = o.clone();
                    // Ages follow the clock; everything else is fixed.
                    strip_times(&mut o);
                    o
                })
                .collect()
        };
        assert_eq!(strip(&a), strip(&b));
        for c in &a.clusters {
            let mut keys = std::collections::HashSet::new();
            let mut uids = std::collections::HashSet::new();
            for o in &c.objects {
                let key = format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap()
                );
                assert!(keys.insert(key.clone()), "{} has {key} twice", c.name);
                if let Some(u) = o["metadata"]["uid"].as_str() {
                    assert!(uids.insert(u.to_string()), "uid of {key} repeats");
                }
            }
            let pods = c.objects.iter().filter(|o| o["kind"] == "Pod").count();
            assert_eq!(pods, 3 * 30, "{}", c.name);
        }
        let names: Vec<&str> = a.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["c00", "c01"]);
    }

    #[test]
    fn a_pending_server_names_its_user_everywhere_and_no_template_name_is_left() {
        let shape: Shape = "1x1x26".parse().unwrap();
        let seed = shape.seed();
        let text = serde_json::to_string(&seed.clusters[0].objects).unwrap();
        for leftover in [
            "staging",
            "alice",
            "dave",
            "erin",
            "frank",
            "ip-10-0-70-15",
            "ip-10-0-12-34",
            "8f4e203e",
        ] {
            assert!(!text.contains(leftover), "{leftover} left in the fleet");
        }
        assert_eq!(shape.user_state(0, 0, 0), UserState::Unschedulable);
        let ada = seed.clusters[0]
            .objects
            .iter()
            .find(|o| o["kind"] == "Pod" && o["metadata"]["name"] == "jupyter-ada")
            .unwrap();
        assert_eq!(ada["metadata"]["namespace"], "c00-hub00");
        assert_eq!(ada["status"]["phase"], "Pending");
        assert_eq!(ada["metadata"]["labels"]["hub.jupyter.org/username"], "ada");
        assert_eq!(
            ada["metadata"]["annotations"]["hub.jupyter.org/username"],
            "ada"
        );
        assert_eq!(ada["spec"]["schedulerName"], "c00-hub00-user-scheduler");
        let failed = seed.clusters[0]
            .objects
            .iter()
            .find(|o| o["kind"] == "Event" && o["reason"] == "FailedScheduling")
            .unwrap();
        assert_eq!(failed["involvedObject"]["name"], "jupyter-ada");
        assert_eq!(failed["involvedObject"]["uid"], ada["metadata"]["uid"]);
        assert!(failed["message"]
            .as_str()
            .unwrap()
            .contains("Insufficient memory"));
    }

    fn strip_times(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k.ends_with("Time") || k.ends_with("Timestamp") || k.ends_with("At") {
                        *x = Value::Null;
                    } else {
                        strip_times(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(strip_times),
            _ => {}
        }
    }
}
