//! Suggestions while someone types `/ops …`: command names first, then hub
//! and cluster names for the word being typed after a known command.

use serenity::builder::{CreateAutocompleteResponse, CreateInteractionResponse};
use serenity::model::application::CommandInteraction;

use crate::chat::Completions;

/// Discord shows at most 25 choices of at most 100 characters.
const MAX_CHOICES: usize = 25;
const MAX_LEN: usize = 100;

/// The autocomplete answer for what has been typed so far.
pub fn answer(ci: &CommandInteraction, names: &Completions) -> CreateInteractionResponse {
    let typed = ci
        .data
        .autocomplete()
        .map(|o| o.value.to_string())
        .unwrap_or_default();
    let mut response = CreateAutocompleteResponse::new();
    for choice in suggest(&typed, names) {
        response = response.add_string_choice(choice.clone(), choice);
    }
    CreateInteractionResponse::Autocomplete(response)
}

/// Whole-text suggestions for `typed` (case-insensitive prefix matches).
pub fn suggest(typed: &str, names: &Completions) -> Vec<String> {
    let lower = typed.trim_start().to_lowercase();
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
        let (done, partial) = match lower.rfind(' ') {
            Some(i) => (&typed.trim_start()[..=i], &lower[i + 1..]),
            None => (cmd.as_str(), ""),
        };
        let mut seen = std::collections::BTreeSet::new();
        for name in names.hubs.iter().chain(&names.clusters) {
            if name.to_lowercase().starts_with(partial) && seen.insert(name.clone()) {
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

    #[test]
    fn never_more_than_discord_allows() {
        let many = Completions {
            commands: (0..40).map(|i| format!("cmd{i}")).collect(),
            ..Default::default()
        };
        assert_eq!(suggest("cmd", &many).len(), MAX_CHOICES);
    }
}
