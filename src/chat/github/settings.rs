//! How to talk to GitHub, resolved once from the loaded config.

use secrecy::SecretString;

/// Everything the GitHub adapter needs. Secrets are [`SecretString`]s and
/// `Debug` prints neither.
#[derive(Clone)]
pub struct GithubSettings {
    /// Verifies deliveries (`GITHUB_WEBHOOK_SECRET`).
    pub webhook_secret: SecretString,
    /// Posts and edits comments (`GITHUB_TOKEN`); the fallback to the App.
    pub token: Option<SecretString>,
    /// The GitHub App (`GITHUB_APP_ID`) and its private key file
    /// (`GITHUB_PRIVATE_KEY_FILE`), read when the adapter starts.
    pub app: Option<(u64, std::path::PathBuf)>,
    /// REST API base (`https://api.github.com`, or a local fake in tests).
    pub api_url: String,
    /// A comment line starting with this runs a command.
    pub prefix: String,
    /// More command lines than this in one comment are refused as a whole.
    pub max_commands_per_comment: usize,
    /// Label the issue with what a succeeded run names (`triage: image-pull`).
    pub triage_labels: bool,
    /// Run the command lines an edit adds (never a line run before).
    pub run_on_edit: bool,
    /// A commenter needs at least this permission on the repository.
    pub min_permission: Option<crate::config::RepoPermission>,
    /// The `github.teams` keys (`org/team`) whose members get extra roles.
    pub teams: Vec<String>,
    /// Every `people[].github` value (a login, or `id:NUMBER`): commenters
    /// are matched to these by account id (see [`super::people`]).
    pub people: Vec<String>,
}

impl std::fmt::Debug for GithubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSettings")
            .field("api_url", &self.api_url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl GithubSettings {
    /// From the loaded config (which applied the `GITHUB_*` overrides) and
    /// its people.
    pub fn from_config(
        c: &crate::config::GithubConfig,
        people: &[crate::config::Person],
    ) -> GithubSettings {
        GithubSettings {
            webhook_secret: c.webhook_secret.clone(),
            token: c.token.clone(),
            app: c.app_id.zip(c.private_key_file.clone()),
            api_url: c.api_url.trim_end_matches('/').to_string(),
            prefix: c.prefix.clone(),
            max_commands_per_comment: c.max_commands_per_comment.max(1),
            triage_labels: c.triage_labels,
            min_permission: c.min_permission,
            run_on_edit: c.run_on_edit,
            teams: c.teams.keys().cloned().collect(),
            people: people.iter().filter_map(|p| p.github.clone()).collect(),
        }
    }
}
