//! Suggestions while someone types `/ops …`: in `/ops run`, command names
//! first, then hub and cluster names for the word being typed after a known
//! command; in a typed option, hub or cluster names, the users with a server
//! on the hub chosen in the same command, or the runs the person may act on.

use serenity::builder::{CreateAutocompleteResponse, CreateInteractionResponse};
use serenity::model::application::{CommandDataOption, CommandDataOptionValue, CommandInteraction};

use super::options::{arg_of, names_a_run, option_name, TEXT};
use crate::chat::{Ask, AskFor, Choice, ChoiceValue, Completions, Core, Platform};
use crate::command::{ArgType, CommandSpec};

/// Discord shows at most 25 choices of at most 100 characters.
const MAX_CHOICES: usize = 25;
const MAX_LEN: usize = 100;

/// The autocomplete answer for what has been typed so far: whole command
/// texts for `/ops run`, names for a typed option of that kind. The names
/// come from the core ([`Completions`], [`Core::suggest`]), never a list
/// of our own.
pub async fn answer(
    core: &dyn Core,
    ci: &CommandInteraction,
    commands: &[CommandSpec],
) -> CreateInteractionResponse {
    let focused = ci.data.autocomplete();
    let typed = focused.as_ref().map(|o| o.value).unwrap_or_default();
    let option = focused.as_ref().map(|o| o.name).unwrap_or(TEXT);
    let names = core.completions();
    let text = |names: Vec<String>| {
        names
            .into_iter()
            .map(|n| Choice {
                label: n.clone(),
                value: ChoiceValue::Text(n),
            })
            .collect::<Vec<_>>()
    };
    let choices = if option == TEXT {
        text(suggest(typed, &names))
    } else {
        let path = path_of(&ci.data.options);
        match arg_of(commands, &path, option) {
            Some((_, arg)) if matches!(arg.ty, ArgType::Hub) => {
                text(names_starting(typed, &names.hubs))
            }
            Some((_, arg)) if matches!(arg.ty, ArgType::Cluster) => {
                text(names_starting(typed, &names.clusters))
            }
            Some((spec, arg)) if matches!(arg.ty, ArgType::User) => {
                // The users of the hub already chosen in this command.
                let hub = spec
                    .args
                    .iter()
                    .find(|a| matches!(a.ty, ArgType::Hub))
                    .and_then(option_name)
                    .and_then(|hub_option| filled(&ci.data.options, &hub_option));
                match hub {
                    Some(hub) => {
                        let ask = Ask {
                            platform: Platform::Discord,
                            sender: &ci.user.id.to_string(),
                            command: &spec.name,
                            what: AskFor::Users { hub: &hub },
                            typed,
                        };
                        core.suggest(ask).await
                    }
                    None => Vec::new(),
                }
            }
            Some((spec, arg)) if names_a_run(arg) => {
                let ask = Ask {
                    platform: Platform::Discord,
                    sender: &ci.user.id.to_string(),
                    command: &spec.name,
                    what: AskFor::Runs,
                    typed,
                };
                core.suggest(ask).await
            }
            _ => Vec::new(),
        }
    };
    let mut response = CreateAutocompleteResponse::new();
    for choice in choices.into_iter().take(MAX_CHOICES) {
        let label: String = choice.label.chars().take(MAX_LEN).collect();
        response = match choice.value {
            ChoiceValue::Text(v) if v.chars().count() <= MAX_LEN => {
                response.add_string_choice(label, v)
            }
            ChoiceValue::Text(_) => response,
            ChoiceValue::Number(n) => response.add_int_choice(label, n),
        };
    }
    CreateInteractionResponse::Autocomplete(response)
}

/// The subcommand (and group) names the interaction is under.
fn path_of(options: &[CommandDataOption]) -> Vec<&str> {
    let Some(first) = options.first() else {
        return Vec::new();
    };
    match &first.value {
        CommandDataOptionValue::SubCommand(_) => vec![first.name.as_str()],
        CommandDataOptionValue::SubCommandGroup(subs) => match subs.first() {
            Some(sub) => vec![first.name.as_str(), sub.name.as_str()],
            None => vec![first.name.as_str()],
        },
        _ => Vec::new(),
    }
}

/// The text already given to the option `name` of the subcommand.
fn filled(options: &[CommandDataOption], name: &str) -> Option<String> {
    let leaves = match &options.first()?.value {
        CommandDataOptionValue::SubCommand(leaves) => leaves,
        CommandDataOptionValue::SubCommandGroup(subs) => match &subs.first()?.value {
            CommandDataOptionValue::SubCommand(leaves) => leaves,
            _ => return None,
        },
        _ => return None,
    };
    leaves
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value {
            CommandDataOptionValue::String(s) => Some(s.clone()),
            CommandDataOptionValue::Autocomplete { value, .. } => Some(value.clone()),
            _ => None,
        })
        .filter(|s| !s.trim().is_empty())
}

/// `names` that start with `typed` (case-insensitively), within Discord's limits.
fn names_starting(typed: &str, names: &[String]) -> Vec<String> {
    let lower = typed.trim().to_lowercase();
    let mut out: Vec<String> = names
        .iter()
        .filter(|n| n.to_lowercase().starts_with(&lower))
        .filter(|n| n.chars().count() <= MAX_LEN)
        .cloned()
        .collect();
    out.dedup();
    out.truncate(MAX_CHOICES);
    out
}

/// Whole-text suggestions for `typed` (case-insensitive prefix matches).
///
/// The lower-case form is only ever compared, never sliced with offsets taken
/// from the typed text: lower-casing can change a string's byte length
/// (`İ` is 2 bytes, its lower case `i̇` 3), so the text is split where it was
/// typed and each part lower-cased on its own.
pub fn suggest(typed: &str, names: &Completions) -> Vec<String> {
    let typed = typed.trim_start();
    let lower = typed.to_lowercase();
    let mut out: Vec<String> = names
        .commands
        .iter()
        .filter(|c| c.to_lowercase().starts_with(&lower))
        .cloned()
        .collect();
    // After a whole command name, complete the word being typed with names.
    if let Some(cmd) = names
        .commands
        .iter()
        .filter(|c| lower.starts_with(&format!("{} ", c.to_lowercase())))
        .max_by_key(|c| c.len())
    {
        let (done, partial) = match typed.rfind(' ') {
            Some(i) => (&typed[..=i], typed[i + 1..].to_lowercase()),
            None => (cmd.as_str(), String::new()),
        };
        let mut seen = std::collections::BTreeSet::new();
        for name in names.hubs.iter().chain(&names.clusters) {
            if name.to_lowercase().starts_with(&partial) && seen.insert(name.clone()) {
                out.push(format!("{done}{name}"));
            }
        }
    }
    out.retain(|c| c.chars().count() <= MAX_LEN);
    out.truncate(MAX_CHOICES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Completions {
        Completions {
            commands: vec![
                "hub status".into(),
                "hub restart".into(),
                "help".into(),
                "users".into(),
            ],
            hubs: vec!["staging".into(), "prod".into()],
            clusters: vec!["aws-us".into()],
        }
    }

    #[test]
    fn an_empty_box_offers_every_command() {
        assert_eq!(suggest("", &names()).len(), 4);
    }

    #[test]
    fn a_prefix_narrows_the_commands() {
        assert_eq!(suggest("hub s", &names()), vec!["hub status".to_string()]);
    }

    #[test]
    fn after_a_command_the_next_word_completes_to_hub_and_cluster_names() {
        assert_eq!(
            suggest("hub status st", &names()),
            vec!["hub status staging".to_string()]
        );
        assert_eq!(suggest("hub status ", &names()).len(), 3);
    }

    /// Issue 16: `İ` lower-cases to a longer string, and an offset found in
    /// the lower-case text used to slice the typed text off a char boundary.
    #[test]
    fn text_whose_lower_case_is_longer_completes_without_panicking() {
        assert_eq!(suggest("hub status İİ ", &names()).len(), 3);
        assert_eq!(
            suggest("HUB STATUS İİ st", &names()),
            vec!["HUB STATUS İİ staging".to_string()],
            "what was typed is kept as typed, the last word completed"
        );
        assert_eq!(
            suggest("İİ hub status st", &names()),
            Vec::<String>::new(),
            "no command starts with İ"
        );
        assert_eq!(
            suggest("HUB STATUS ST", &names()),
            vec!["HUB STATUS staging".to_string()]
        );
    }

    proptest::proptest! {
        /// Whatever a Discord member types, suggesting answers (and within
        /// Discord's limits).
        #[test]
        fn any_typed_text_gets_an_answer_within_discords_limits(typed in "\\PC{0,60}") {
            let out = suggest(&typed, &names());
            proptest::prop_assert!(out.len() <= MAX_CHOICES);
            proptest::prop_assert!(out.iter().all(|c| c.chars().count() <= MAX_LEN));
        }

        #[test]
        fn a_known_command_then_any_text_gets_an_answer(rest in "[İıßẞΣς ǅa-z]{0,30}") {
            let out = suggest(&format!("hub status {rest}"), &names());
            proptest::prop_assert!(out.len() <= MAX_CHOICES);
        }
    }

    #[test]
    fn never_more_than_discord_allows() {
        let many = Completions {
            commands: (0..40).map(|i| format!("cmd{i}")).collect(),
            ..Default::default()
        };
        assert_eq!(suggest("cmd", &many).len(), MAX_CHOICES);
    }
}
