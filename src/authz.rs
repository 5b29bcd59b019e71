//! Who may run and approve what, where: pure decisions over the [`Config`].
//!
//! People have roles; roles grant command patterns to run and to approve,
//! optionally scoped to hubs and clusters. Nothing here does I/O or keeps
//! state: approvals themselves are stored by `runs`/`audit`, and platform
//! adapters that map GitHub teams or Discord roles to opsbot roles pass a
//! [`Person`] whose `roles` already include those grants.
//!
//! Command patterns: an exact command name (`"hub restart"`), a prefix glob
//! (`"hub *"`, matching `hub` and every `hub ...` command) or `"*"`.
//!
//! Scopes: a role whose scope lists hubs only covers commands aimed at one of
//! those hubs; one that lists clusters only covers commands aimed at those
//! clusters (a hub's cluster counts). Commands aimed at no hub and no cluster
//! (`help`, `runs`) are covered by every scope. An empty list or `"*"` means
//! anywhere.

use crate::config::{Config, Person, Role, Scope};

/// What a command is aimed at, so scoped roles can be checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub hub: Option<String>,
    pub cluster: Option<String>,
}

impl Target {
    /// A command aimed at one hub.
    pub fn hub(name: impl Into<String>) -> Self {
        Target {
            hub: Some(name.into()),
            cluster: None,
        }
    }

    /// A command aimed at one cluster.
    pub fn cluster(name: impl Into<String>) -> Self {
        Target {
            hub: None,
            cluster: Some(name.into()),
        }
    }

    fn describe(&self, cfg: &Config) -> String {
        match (&self.hub, effective_cluster(cfg, self)) {
            (Some(h), _) => format!("hub {h}"),
            (None, Some(c)) => format!("cluster {c}"),
            (None, None) => "anything".to_string(),
        }
    }
}

/// The answer to "may this person run this command here?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run it now.
    Allow,
    /// Allowed, but `approvers` other people from `approvers_who_can`
    /// (person ids) must approve first.
    NeedsApproval {
        approvers: u32,
        approvers_who_can: Vec<String>,
    },
    /// Refused; `reason` is shown to the person and `who_can` lists the
    /// person ids that could run it here instead.
    Deny {
        reason: String,
        who_can: Vec<String>,
    },
}

impl Decision {
    /// Is the person allowed to run it (now or after approval)?
    pub fn is_permitted(&self) -> bool {
        !matches!(self, Decision::Deny { .. })
    }
}

/// Does `pattern` (`"*"`, `"hub *"`, `"hub restart"`) cover `command`?
/// Whitespace is not significant.
pub fn pattern_matches(pattern: &str, command: &str) -> bool {
    let pat: Vec<&str> = pattern.split_whitespace().collect();
    let cmd: Vec<&str> = command.split_whitespace().collect();
    match pat.split_last() {
        Some((&"*", prefix)) => cmd.len() >= prefix.len() && cmd[..prefix.len()] == *prefix,
        Some(_) => pat == cmd,
        None => false,
    }
}

fn any_matches(patterns: &[String], command: &str) -> bool {
    patterns.iter().any(|p| pattern_matches(p, command))
}

fn effective_cluster(cfg: &Config, target: &Target) -> Option<String> {
    target.cluster.clone().or_else(|| {
        target
            .hub
            .as_deref()
            .and_then(|h| cfg.hub(h))
            .map(|h| h.cluster.clone())
    })
}

fn unrestricted(list: &[String]) -> bool {
    list.is_empty() || list.iter().any(|x| x == "*")
}

/// `Ok` when `scope` covers `target`, otherwise what it does cover
/// (`"hub staging"`, `"clusters aws-us, gcp-eu"`).
fn scope_covers(cfg: &Config, scope: &Scope, target: &Target) -> Result<(), String> {
    let cluster = effective_cluster(cfg, target);
    if target.hub.is_none() && cluster.is_none() {
        return Ok(());
    }
    let plural = |word: &str, list: &[String]| {
        if list.len() == 1 {
            format!("{word} {}", list[0])
        } else {
            format!("{word}s {}", list.join(", "))
        }
    };
    if !unrestricted(&scope.hubs) {
        let ok = target.hub.as_ref().is_some_and(|h| scope.hubs.contains(h));
        if !ok {
            return Err(plural("hub", &scope.hubs));
        }
    }
    if !unrestricted(&scope.clusters) {
        let ok = cluster.as_ref().is_some_and(|c| scope.clusters.contains(c));
        if !ok {
            return Err(plural("cluster", &scope.clusters));
        }
    }
    Ok(())
}

fn roles_of<'a>(cfg: &'a Config, person: &'a Person) -> impl Iterator<Item = (&'a str, &'a Role)> {
    person
        .roles
        .iter()
        .filter_map(|r| cfg.roles.get_key_value(r).map(|(k, v)| (k.as_str(), v)))
}

fn role_list(person: &Person) -> String {
    if person.roles.is_empty() {
        "you have no roles, so you".to_string()
    } else {
        format!("your roles ({})", person.roles.join(", "))
    }
}

#[derive(Clone, Copy)]
enum Right {
    Run,
    Approve,
}

impl Right {
    fn patterns(self, role: &Role) -> &[String] {
        match self {
            Right::Run => &role.run,
            Right::Approve => &role.approve,
        }
    }
    fn verb(self) -> &'static str {
        match self {
            Right::Run => "run",
            Right::Approve => "approve",
        }
    }
}

/// `Ok` when one of the person's roles grants `right` on `command` at
/// `target`; otherwise the specific reason why not.
fn check(
    cfg: &Config,
    person: &Person,
    right: Right,
    command: &str,
    target: &Target,
) -> Result<(), String> {
    let mut scoped_out = Vec::new();
    for (name, role) in roles_of(cfg, person) {
        if !any_matches(right.patterns(role), command) {
            continue;
        }
        match scope_covers(cfg, &role.scope, target) {
            Ok(()) => return Ok(()),
            Err(covers) => scoped_out.push(format!(
                "your role {name} covers {covers} only, not {}",
                target.describe(cfg)
            )),
        }
    }
    if scoped_out.is_empty() {
        Err(format!(
            "{} may not {} `{command}`",
            role_list(person),
            right.verb()
        ))
    } else {
        Err(scoped_out.join("; "))
    }
}

/// The people other than `except` who hold `right` here, grouped by the
/// roles that grant it: (`"engineer can: alice, dave"`, ids).
fn who_can(
    cfg: &Config,
    right: Right,
    command: &str,
    target: &Target,
    except: &str,
) -> (String, Vec<String>) {
    let mut ids: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    for (name, role) in &cfg.roles {
        if !any_matches(right.patterns(role), command)
            || scope_covers(cfg, &role.scope, target).is_err()
        {
            continue;
        }
        let holders: Vec<&str> = cfg
            .people
            .iter()
            .filter(|p| p.id != except && p.roles.iter().any(|r| r == name))
            .map(|p| p.id.as_str())
            .collect();
        if holders.is_empty() {
            continue;
        }
        parts.push(format!("{name} can: {}", holders.join(", ")));
        for h in holders {
            if !ids.iter().any(|i| i == h) {
                ids.push(h.to_string());
            }
        }
    }
    let text = if parts.is_empty() {
        format!(
            "nobody else may {} it there; ask an opsbot admin to grant it to a role",
            right.verb()
        )
    } else {
        parts.join("; ")
    };
    (text, ids)
}

/// May `person` run `command` (its canonical name, e.g. `hub restart`) at
/// `target`? `mutates` and `approvers` come from the playbook: a mutating
/// command needs at least one approval by someone else (even when
/// `approvers` is 0) unless `policy.exempt_from_approval` lists it.
pub fn decide(
    cfg: &Config,
    person: &Person,
    command: &str,
    target: &Target,
    mutates: bool,
    approvers: u32,
) -> Decision {
    if !mutates && any_matches(&cfg.policy.always_allowed, command) {
        return Decision::Allow;
    }
    if let Err(reason) = check(cfg, person, Right::Run, command, target) {
        let (text, who) = who_can(cfg, Right::Run, command, target, &person.id);
        return Decision::Deny {
            reason: format!("{reason}; {text}"),
            who_can: who,
        };
    }
    if !mutates || any_matches(&cfg.policy.exempt_from_approval, command) {
        return Decision::Allow;
    }
    let needed = approvers.max(1);
    let can: Vec<String> = cfg
        .people
        .iter()
        .filter(|p| can_approve(cfg, p, &person.id, command, target).is_ok())
        .map(|p| p.id.clone())
        .collect();
    if (can.len() as u64) < u64::from(needed) {
        let (_, runners) = who_can(cfg, Right::Run, command, target, &person.id);
        let have = if can.is_empty() {
            "nobody else may approve it there".to_string()
        } else {
            format!("only {} may approve it there", can.join(", "))
        };
        return Decision::Deny {
            reason: format!(
                "`{command}` on {} needs approval by {needed} other {}, but {have}; ask an opsbot admin to grant `approve` for it to more people",
                target.describe(cfg),
                if needed == 1 { "person" } else { "people" },
            ),
            who_can: runners,
        };
    }
    Decision::NeedsApproval {
        approvers: needed,
        approvers_who_can: can,
    }
}

/// Does one of `person`'s roles let them run `command` at `target`? For
/// fleet-wide commands, asked hub by hub, so a scoped role sees only its hubs.
pub fn may_run_at(cfg: &Config, person: &Person, command: &str, target: &Target) -> bool {
    check(cfg, person, Right::Run, command, target).is_ok()
}

/// May `person` see a run (in `runs` and `audit RUN`) that `requester`
/// asked for at `target`? Their own runs always; others' runs on hubs and
/// clusters one of their roles' scopes covers. A run aimed at nothing in
/// particular (a fleet-wide read) is seen only through an unscoped role,
/// since it may have read hubs outside a scoped one.
pub fn may_see_run(cfg: &Config, person: &Person, requester: &str, target: &Target) -> bool {
    if person.id == requester {
        return true;
    }
    let aimed = target.hub.is_some() || target.cluster.is_some();
    roles_of(cfg, person).any(|(_, role)| {
        if aimed {
            scope_covers(cfg, &role.scope, target).is_ok()
        } else {
            unrestricted(&role.scope.hubs) && unrestricted(&role.scope.clusters)
        }
    })
}

/// Does one of `person`'s roles cover `target` (a hub, a cluster)? What the
/// `hubs` and `clusters` listings show them: a scoped role sees its part of
/// the fleet, not the names of everything else.
pub fn covers(cfg: &Config, person: &Person, target: &Target) -> bool {
    roles_of(cfg, person).any(|(_, role)| scope_covers(cfg, &role.scope, target).is_ok())
}

/// May `approver` approve the run of `command` at `target` that `requester`
/// (a person id) asked for? Refuses self-approval and anyone without the
/// approve right in that scope; the `Err` text is shown to the approver.
pub fn can_approve(
    cfg: &Config,
    approver: &Person,
    requester: &str,
    command: &str,
    target: &Target,
) -> Result<(), String> {
    if approver.id == requester {
        let (text, _) = who_can(cfg, Right::Approve, command, target, requester);
        return Err(format!(
            "you asked for this run, so someone else has to approve it; {text}"
        ));
    }
    check(cfg, approver, Right::Approve, command, target).map_err(|reason| {
        let (text, _) = who_can(cfg, Right::Approve, command, target, requester);
        format!("{reason}; {text}")
    })
}

/// May `command` be run in this Slack channel? Channels listed under
/// `slack.channels` allow only their patterns; other channels add no limit.
/// A request with no channel (`None`) fails closed when any channel is
/// limited: opsbot cannot tell that it is not from a limited one.
/// The `Err` text is shown to the person.
pub fn channel_allows(cfg: &Config, channel: Option<&str>, command: &str) -> Result<(), String> {
    let channels = cfg.slack.as_ref().map(|s| &s.channels);
    let Some(channel) = channel else {
        if channels.is_some_and(|c| !c.is_empty()) {
            return Err("this request came without its channel, and commands here are limited by channel; ask again from a channel or a direct message".to_string());
        }
        return Ok(());
    };
    let Some(allowed) = channels.and_then(|c| c.get(channel)) else {
        return Ok(());
    };
    if any_matches(allowed, command) {
        return Ok(());
    }
    Err(format!(
        "`{command}` is not run in this channel; here you may use: {}. Ask in another channel or a direct message",
        if allowed.is_empty() { "nothing".to_string() } else { allowed.join(", ") }
    ))
}

/// For `help`: every command with what `person` may do with it when aimed
/// at nothing in particular (scoped roles count; approvals are not
/// computed here since help does not know whether a command mutates).
pub fn visible_commands<'a>(
    cfg: &Config,
    person: &Person,
    commands: impl Iterator<Item = &'a str>,
) -> Vec<(&'a str, Decision)> {
    let anywhere = Target::default();
    commands
        .map(|c| (c, decide(cfg, person, c, &anywhere, false, 0)))
        .collect()
}
