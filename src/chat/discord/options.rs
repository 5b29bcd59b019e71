//! `/ops` as Discord users expect it: one subcommand per command of
//! `commands/` (`/ops users`, and groups for several words: `/ops hub
//! status`), each argument a typed option (integer, boolean, or string with
//! autocomplete for hubs, clusters, users and runs), and `/ops run` with the free text
//! as the fallback for everything Discord's limits leave out (25 options
//! per level, 25 subcommands per group, names of 1 to 32 lower-case
//! letters, digits, `-` and `_`). An interaction's options are turned back
//! into the command text the core parses, so both ways run the same path.

use serenity::builder::CreateCommandOption;
use serenity::model::application::{CommandDataOption, CommandDataOptionValue, CommandOptionType};

use crate::command::{ArgType, CommandSpec};

/// The free-text subcommand and its one option.
pub const RUN: &str = "run";
pub const TEXT: &str = "command";

/// Discord's limits.
const MAX_OPTIONS: usize = 25;
const MAX_DESCRIPTION: usize = 100;

/// A valid Discord option name, or `None`.
fn name(word: &str) -> Option<String> {
    let w = word.to_lowercase();
    let ok = !w.is_empty()
        && w.chars().count() <= 32
        && w.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    ok.then_some(w)
}

fn description(text: &str) -> String {
    let t = text.trim();
    let t = if t.is_empty() { "opsbot command" } else { t };
    if t.chars().count() <= MAX_DESCRIPTION {
        t.to_string()
    } else {
        let cut: String = t.chars().take(MAX_DESCRIPTION - 1).collect();
        format!("{cut}…")
    }
}

/// Where a command sits under `/ops`: (group, subcommand) or (subcommand).
fn slot(spec: &CommandSpec) -> Option<(Option<String>, String)> {
    let words: Vec<&str> = spec.name.split_whitespace().collect();
    match words.as_slice() {
        [one] => Some((None, name(one)?)),
        [group, rest @ ..] => Some((Some(name(group)?), name(&rest.join("-"))?)),
        [] => None,
    }
}

/// The option a command argument becomes, or `None` when Discord cannot
/// name it (the command then stays reachable through `/ops run`).
fn option_of(arg: &crate::command::ArgSpec) -> Option<CreateCommandOption> {
    let option_name = name(arg.flag.as_deref().unwrap_or(&arg.name))?;
    let (kind, autocomplete) = match &arg.ty {
        _ if arg.switch => (CommandOptionType::Boolean, false),
        ArgType::Int { .. } => (CommandOptionType::Integer, names_a_run(arg)),
        ArgType::Bool => (CommandOptionType::Boolean, false),
        ArgType::Hub | ArgType::Cluster | ArgType::User => (CommandOptionType::String, true),
        _ => (CommandOptionType::String, false),
    };
    let mut o = CreateCommandOption::new(
        kind,
        option_name,
        description(&format!("{} ({})", arg.placeholder, arg.ty.word())),
    )
    .required(arg.required && !arg.switch);
    if autocomplete {
        o = o.set_autocomplete(true);
    }
    if let ArgType::Int { min, max } = &arg.ty {
        if let Some(m) = min {
            o = o.min_int_value(*m as u64);
        }
        if let Some(m) = max {
            o = o.max_int_value(*m as u64);
        }
    }
    if let ArgType::Enum { values } = &arg.ty {
        if values.len() <= MAX_OPTIONS {
            for v in values {
                o = o.add_string_choice(v.clone(), v.clone());
            }
        }
    }
    Some(o)
}

/// The subcommand for one command, if Discord can carry all its arguments.
fn subcommand(sub: &str, spec: &CommandSpec) -> Option<CreateCommandOption> {
    if spec.args.len() > MAX_OPTIONS || spec.args.iter().any(|a| a.variadic || a.repeated) {
        return None;
    }
    let mut o = CreateCommandOption::new(
        CommandOptionType::SubCommand,
        sub,
        description(&spec.summary),
    );
    // Discord wants required options first.
    let (required, optional): (Vec<_>, Vec<_>) =
        spec.args.iter().partition(|a| a.required && !a.switch);
    for arg in required.into_iter().chain(optional) {
        o = o.add_sub_option(option_of(arg)?);
    }
    Some(o)
}

/// Every option of `/ops`: `run` first, then one subcommand or group per
/// command, as many as Discord allows.
pub fn options(specs: &[CommandSpec]) -> Vec<CreateCommandOption> {
    let run = CreateCommandOption::new(
        CommandOptionType::SubCommand,
        RUN,
        "Run any opsbot command as text, e.g. hub status staging",
    )
    .add_sub_option(
        CreateCommandOption::new(
            CommandOptionType::String,
            TEXT,
            "What to run, e.g. hub status staging",
        )
        .required(false)
        .set_autocomplete(true)
        .max_length(1000),
    );
    let mut singles: Vec<(String, CreateCommandOption)> = Vec::new();
    let mut groups: Vec<(String, Vec<CreateCommandOption>)> = Vec::new();
    for spec in specs {
        let Some((group, sub)) = slot(spec) else {
            continue;
        };
        let Some(o) = subcommand(&sub, spec) else {
            continue;
        };
        match group {
            None if sub != RUN && !singles.iter().any(|(n, _)| *n == sub) => singles.push((sub, o)),
            None => {}
            Some(g) => match groups.iter_mut().find(|(n, _)| *n == g) {
                Some((_, subs)) if subs.len() < MAX_OPTIONS => subs.push(o),
                Some(_) => {}
                None => groups.push((g, vec![o])),
            },
        }
    }
    let mut out = vec![run];
    for (n, o) in singles {
        // A name is either a subcommand or a group, never both.
        if !groups.iter().any(|(g, _)| *g == n) {
            out.push(o);
        }
    }
    for (g, subs) in groups {
        if g == RUN {
            continue;
        }
        let mut o = CreateCommandOption::new(
            CommandOptionType::SubCommandGroup,
            g.clone(),
            description(&format!("{g} commands")),
        );
        for s in subs {
            o = o.add_sub_option(s);
        }
        out.push(o);
    }
    out.truncate(MAX_OPTIONS);
    out
}

/// The command text an interaction's options stand for: `/ops run` gives
/// its text, a typed subcommand the command's words and its arguments
/// (quoted as the tokenizer reads them). `None` when no option was given
/// (plain `/ops`) or a value cannot be written as text.
pub fn text_of(options: &[CommandDataOption], specs: &[CommandSpec]) -> Option<String> {
    let first = options.first()?;
    let (path, values) = match &first.value {
        CommandDataOptionValue::SubCommand(v) => (vec![first.name.as_str()], v),
        CommandDataOptionValue::SubCommandGroup(subs) => {
            let sub = subs.first()?;
            match &sub.value {
                CommandDataOptionValue::SubCommand(v) => {
                    (vec![first.name.as_str(), sub.name.as_str()], v)
                }
                _ => return None,
            }
        }
        // The one free-text option of an older registration.
        CommandDataOptionValue::String(s) if first.name == TEXT => {
            return Some(s.trim().to_string())
        }
        _ => return None,
    };
    if path == [RUN] {
        return values
            .iter()
            .find(|o| o.name == TEXT)
            .and_then(|o| match &o.value {
                CommandDataOptionValue::String(s) => Some(s.trim().to_string()),
                _ => None,
            });
    }
    let spec = specs.iter().find(|s| {
        slot(s).is_some_and(|(g, sub)| match (g, path.as_slice()) {
            (None, [one]) => sub == *one,
            (Some(g), [group, one]) => g == *group && sub == *one,
            _ => false,
        })
    })?;
    let mut words = vec![spec.name.clone()];
    let value = |arg: &crate::command::ArgSpec| {
        let n = name(arg.flag.as_deref().unwrap_or(&arg.name))?;
        values.iter().find(|o| o.name == n).map(|o| &o.value)
    };
    for arg in spec.args.iter().filter(|a| a.flag.is_none()) {
        if let Some(v) = value(arg) {
            words.push(word(v)?);
        }
    }
    for arg in spec.args.iter().filter(|a| a.flag.is_some()) {
        let flag = arg.flag.as_deref().unwrap_or_default();
        match value(arg) {
            Some(CommandDataOptionValue::Boolean(true)) if arg.switch => {
                words.push(format!("--{flag}"))
            }
            Some(CommandDataOptionValue::Boolean(false)) if arg.switch => {}
            Some(v) => {
                words.push(format!("--{flag}"));
                words.push(word(v)?);
            }
            None => {}
        }
    }
    Some(words.join(" "))
}

/// One value as one word of command text: quoted with a quote it does not
/// contain when it has spaces or quotes (or starts like a flag).
fn word(v: &CommandDataOptionValue) -> Option<String> {
    let s = match v {
        CommandDataOptionValue::String(s) => s.clone(),
        CommandDataOptionValue::Integer(i) => return Some(i.to_string()),
        CommandDataOptionValue::Boolean(b) => return Some(b.to_string()),
        CommandDataOptionValue::Number(n) => return Some(n.to_string()),
        _ => return None,
    };
    let plain = !s.is_empty()
        && !s.starts_with("--")
        && !s
            .chars()
            .any(|c| c.is_whitespace() || "'\"‘’“”".contains(c));
    if plain {
        return Some(s);
    }
    [('"', '"'), ('\'', '\''), ('“', '”'), ('‘', '’')]
        .into_iter()
        .find(|(_, close)| !s.contains(*close))
        .map(|(open, close)| format!("{open}{s}{close}"))
}

/// For autocomplete on a typed option: the command at `path` (its
/// subcommand, and group) and the argument behind the option named `option`.
pub fn arg_of<'a>(
    specs: &'a [CommandSpec],
    path: &[&str],
    option: &str,
) -> Option<(&'a CommandSpec, &'a crate::command::ArgSpec)> {
    let spec = specs.iter().find(|s| {
        slot(s).is_some_and(|(g, sub)| match (g, path) {
            (None, [one]) => sub == *one,
            (Some(g), [group, one]) => g == *group && sub == *one,
            _ => false,
        })
    })?;
    let arg = spec
        .args
        .iter()
        .find(|a| option_name(a).as_deref() == Some(option))?;
    Some((spec, arg))
}

/// The option name an argument is registered under.
pub fn option_name(arg: &crate::command::ArgSpec) -> Option<String> {
    name(arg.flag.as_deref().unwrap_or(&arg.name))
}

/// An argument that names a run (`approve <run>`): Discord suggests runs.
pub fn names_a_run(arg: &crate::command::ArgSpec) -> bool {
    arg.name == "run" && matches!(arg.ty, ArgType::Int { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Grammar;

    fn shipped() -> Vec<CommandSpec> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands");
        let g = Grammar::load_dir(&dir).unwrap();
        g.commands().to_vec()
    }

    fn json(options: &[CreateCommandOption]) -> serde_json::Value {
        serde_json::to_value(options).unwrap()
    }

    #[test]
    fn the_shipped_commands_fit_discords_limits_with_run_as_the_fallback() {
        let specs = shipped();
        let v = json(&options(&specs));
        let top = v.as_array().unwrap();
        assert!(top.len() <= 25);
        assert_eq!(top[0]["name"], RUN);
        assert_eq!(top[0]["options"][0]["name"], TEXT);
        assert_eq!(top[0]["options"][0]["autocomplete"], true);
        let re = regex::Regex::new(r"^[-_\p{Ll}\p{N}]{1,32}$").unwrap();
        fn walk(v: &serde_json::Value, re: &regex::Regex) {
            for o in v.as_array().into_iter().flatten() {
                let n = o["name"].as_str().unwrap();
                assert!(re.is_match(n), "{n}");
                assert!(o["description"].as_str().unwrap().chars().count() <= 100);
                if let Some(sub) = o.get("options") {
                    assert!(sub.as_array().unwrap().len() <= 25);
                    let required: Vec<bool> = sub
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["required"].as_bool().unwrap_or(false))
                        .collect();
                    assert!(
                        required.windows(2).all(|w| w[0] || !w[1]),
                        "required first: {o}"
                    );
                    walk(sub, re);
                }
            }
        }
        walk(&v, &re);
        let hub = top
            .iter()
            .find(|o| o["name"] == "hub")
            .expect("a hub group");
        assert_eq!(hub["type"], 2, "a subcommand group");
        let status = hub["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "status")
            .unwrap();
        assert_eq!(status["type"], 1);
        assert_eq!(status["options"][0]["type"], 3);
        assert_eq!(
            status["options"][0]["autocomplete"], true,
            "hub names complete"
        );
    }

    fn opt(name: &str, value: CommandDataOptionValue) -> CommandDataOption {
        serde_json::from_value(serde_json::json!({"name": name, "type": 3, "value": ""}))
            .map(|mut o: CommandDataOption| {
                o.value = value;
                o
            })
            .unwrap()
    }

    #[test]
    fn typed_options_become_the_command_text_the_parser_reads() {
        let specs = shipped();
        let sub = |name: &str, v: Vec<CommandDataOption>| {
            opt(name, CommandDataOptionValue::SubCommand(v))
        };
        let status = vec![opt(
            "hub",
            CommandDataOptionValue::SubCommandGroup(vec![sub(
                "status",
                vec![opt("hub", CommandDataOptionValue::String("staging".into()))],
            )]),
        )];
        assert_eq!(
            text_of(&status, &specs).as_deref(),
            Some("hub status staging")
        );
        let restart = vec![opt(
            "hub",
            CommandDataOptionValue::SubCommandGroup(vec![sub(
                "restart",
                vec![
                    opt(
                        "reason",
                        CommandDataOptionValue::String("config change".into()),
                    ),
                    opt("hub", CommandDataOptionValue::String("prod".into())),
                ],
            )]),
        )];
        assert_eq!(
            text_of(&restart, &specs).as_deref(),
            Some("hub restart prod --reason \"config change\"")
        );
        let run = vec![sub(
            "run",
            vec![opt(
                TEXT,
                CommandDataOptionValue::String(" users staging ".into()),
            )],
        )];
        assert_eq!(text_of(&run, &specs).as_deref(), Some("users staging"));
        assert_eq!(text_of(&[], &specs), None);
    }

    #[test]
    fn a_value_with_every_quote_cannot_be_written_and_is_refused() {
        let v = CommandDataOptionValue::String("a\"b'c”d’e".into());
        assert_eq!(word(&v), None);
        assert_eq!(
            word(&CommandDataOptionValue::String("--x".into())).as_deref(),
            Some("\"--x\"")
        );
    }
}
