//! "opsbot is busy" on GitHub, within the API budget: an installation may
//! make 5,000 requests an hour, and a burst of commands that finds the queue
//! full would spend a comment (and a reaction) per delivery. Instead each
//! issue gets one busy note per [`QUIET`]; the deliveries refused meanwhile
//! cost no API call (the note already on the issue says to ask again).

use std::time::Duration;

use super::expiring::Expiring;

/// How long one busy note on an issue covers the refusals after it.
pub const QUIET: Duration = Duration::from_secs(60);

/// When each issue last got a busy note.
pub struct BusyNotes {
    said: Expiring<(String, u64), ()>,
}

impl Default for BusyNotes {
    fn default() -> Self {
        BusyNotes {
            said: Expiring::new(QUIET),
        }
    }
}

impl BusyNotes {
    /// Whether a busy refusal on `repo#issue` should be said (and, if so,
    /// notes that it is being said now).
    pub fn first_in_a_while(&self, repo: &str, issue: u64) -> bool {
        self.said.put_unless_fresh((repo.to_string(), issue), ())
    }
}

/// The one note for a burst of busy refusals.
pub fn note(login: &str) -> String {
    format!(
        "@{} opsbot is busy: its queue of runs is full, so this command and any others on this issue in the next {} s were not recorded or run. Comment the command again in a minute.",
        super::render::escape(login),
        QUIET.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_busy_note_per_issue_covers_the_refusals_after_it() {
        let notes = BusyNotes::default();
        assert!(notes.first_in_a_while("o/r", 1));
        assert!(!notes.first_in_a_while("o/r", 1));
        assert!(notes.first_in_a_while("o/r", 2));
        assert!(notes.first_in_a_while("o/other", 1));
    }
}
