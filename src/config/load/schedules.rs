//! The `schedules:` section: read-only commands opsbot runs by itself on a
//! cron schedule and posts to a Slack channel (a morning `fleet status`).
//! Checked here: the cron expression parses, names are unique, the person
//! is known; that the command changes nothing is checked against the
//! grammar and playbooks by the app and `opsbot check`.

use std::collections::HashSet;

use serde::Deserialize;

use super::{Ctx, S};
use crate::config::{Person, Schedule};
use crate::diagnostic::Spanned;

/// The person schedule runs are requested as when the entry names none.
pub const DEFAULT_PERSON: &str = "scheduler";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    name: S,
    cron: S,
    command: S,
    slack_channel: S,
    person: Option<S>,
}

/// The cron syntax schedules accept: five fields, or six with seconds
/// first, and the `@daily`-style aliases.
pub fn parse_cron(text: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(text)
}

pub(super) fn schedules(
    cx: &mut Ctx<'_>,
    raw: &[Spanned<RawSchedule>],
    people: &[Person],
) -> Vec<Schedule> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for entry in raw {
        let Some(name) = cx.name("schedules[].name", &entry.name) else {
            continue;
        };
        if !names.insert(name.clone()) {
            cx.err(
                entry.name.span(),
                format!("schedules: `{name}` is named twice; give each schedule its own name"),
            );
        }
        let field = |k: &str| format!("schedules.{name}.{k}");
        let cron = cx.name(&field("cron"), &entry.cron);
        if let Some(c) = &cron {
            if let Err(e) = parse_cron(c) {
                cx.err(
                    entry.cron.span(),
                    format!("{}: `{c}` is not a cron expression ({e}); write five fields `minute hour day month weekday` in UTC, e.g. `0 8 * * 1-5` for 08:00 on weekdays", field("cron")),
                );
            }
        }
        let command = cx.name(&field("command"), &entry.command);
        let slack_channel = cx.name(&field("slack_channel"), &entry.slack_channel);
        let person = match &entry.person {
            Some(p) => cx.name(&field("person"), p),
            None => Some(DEFAULT_PERSON.to_string()),
        };
        if let Some(p) = person
            .as_deref()
            .filter(|p| !people.iter().any(|x| x.id == *p))
        {
            let at = entry
                .person
                .as_ref()
                .map(|p| *p.span())
                .unwrap_or(*entry.span());
            cx.err(
                &at,
                format!("{}: `{p}` is not in `people:`; add `- {{ id: {p}, roles: [<a read-only role>] }}` so scheduled runs are authorised and audited as it", field("person")),
            );
        }
        if let (Some(cron), Some(command), Some(slack_channel), Some(person)) =
            (cron, command, slack_channel, person)
        {
            out.push(Schedule {
                name,
                cron,
                command,
                slack_channel,
                person,
            });
        }
    }
    out
}
