//! Where an alert group is told about: a Slack thread, a GitHub issue or a
//! Discord message. The worker ([`super::groups`]) speaks to every
//! destination through the same five verbs — open the group's place, edit
//! it on a repeat, add a note, close it when resolved, follow a run into
//! it — so a route may name several and each platform's differences stay
//! here (a Slack thread reply is an issue comment is a channel message).

use tokio::sync::mpsc::UnboundedReceiver;

use super::groups::header;
use super::payload::Notification;
use crate::chat::discord::ChannelNotifier;
use crate::chat::github::IssueNotifier;
use crate::chat::place::AlertPlace;
use crate::chat::slack::Notifier;
use crate::chat::Update;

/// One destination a route names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A Slack channel id: one thread per group.
    Slack(String),
    /// `owner/name`: one issue per group.
    Github(String),
    /// A Discord channel id: one message per group.
    Discord(String),
}

impl Destination {
    /// Those of the three keys that are set, in a fixed order.
    pub fn all(
        slack: &Option<String>,
        github: &Option<String>,
        discord: &Option<String>,
    ) -> Vec<Destination> {
        let mut out = Vec::new();
        out.extend(slack.clone().map(Destination::Slack));
        out.extend(github.clone().map(Destination::Github));
        out.extend(discord.clone().map(Destination::Discord));
        out
    }
}

/// A group's place at one destination once it was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spot {
    Slack { channel: String, ts: String },
    Github { repo: String, issue: u64 },
    Discord { channel: String, message: String },
}

impl Spot {
    /// The Slack channel of a Slack spot (storm summaries are per channel).
    pub fn slack_channel(&self) -> Option<&str> {
        match self {
            Spot::Slack { channel, .. } => Some(channel),
            _ => None,
        }
    }
}

/// The group's places written into an audit `where`, so a restarted
/// process finds every one of them again.
pub fn place(group_key: &str, receiver: &str, spots: &[Spot]) -> AlertPlace {
    let mut p = AlertPlace {
        group_key: group_key.to_string(),
        receiver: receiver.to_string(),
        slack_channel: None,
        thread_ts: None,
        github_repo: None,
        github_issue: None,
        discord_channel: None,
        discord_message: None,
    };
    for s in spots {
        match s {
            Spot::Slack { channel, ts } => {
                p.slack_channel = Some(channel.clone());
                p.thread_ts = Some(ts.clone());
            }
            Spot::Github { repo, issue } => {
                p.github_repo = Some(repo.clone());
                p.github_issue = Some(*issue);
            }
            Spot::Discord { channel, message } => {
                p.discord_channel = Some(channel.clone());
                p.discord_message = Some(message.clone());
            }
        }
    }
    p
}

/// The spots an audit `where` names (the inverse of [`place`]); records
/// written before GitHub and Discord destinations existed name Slack only.
pub fn spots(p: &AlertPlace) -> Vec<Spot> {
    let mut out = Vec::new();
    if let (Some(channel), Some(ts)) = (&p.slack_channel, &p.thread_ts) {
        out.push(Spot::Slack {
            channel: channel.clone(),
            ts: ts.clone(),
        });
    }
    if let (Some(repo), Some(issue)) = (&p.github_repo, p.github_issue) {
        out.push(Spot::Github {
            repo: repo.clone(),
            issue,
        });
    }
    if let (Some(channel), Some(message)) = (&p.discord_channel, &p.discord_message) {
        out.push(Spot::Discord {
            channel: channel.clone(),
            message: message.clone(),
        });
    }
    out
}

/// The clients of the configured platforms; a destination whose platform
/// is not configured is skipped (and said so once at start-up).
#[derive(Clone, Default)]
pub struct Outlets {
    pub slack: Option<Notifier>,
    pub github: Option<IssueNotifier>,
    pub discord: Option<ChannelNotifier>,
}

const RESOLVED: &str = "✅ Resolved: Alertmanager says every alert of this group has ended.";
const FIRING_AGAIN: &str = "🔥 Firing again.";

impl Outlets {
    /// Whether `d`'s platform is configured here.
    pub fn reaches(&self, d: &Destination) -> bool {
        match d {
            Destination::Slack(_) => self.slack.is_some(),
            Destination::Github(_) => self.github.is_some(),
            Destination::Discord(_) => self.discord.is_some(),
        }
    }

    /// The group's first message (a thread root, an issue, a message).
    pub async fn open(&self, d: &Destination, n: &Notification) -> Option<Spot> {
        match d {
            Destination::Slack(channel) => {
                let slack = self.slack.as_ref()?;
                match slack.post(channel, None, &header(n)).await {
                    Ok(ts) => Some(Spot::Slack {
                        channel: channel.clone(),
                        ts,
                    }),
                    Err(e) => {
                        tracing::error!(channel, error = %e, "alertmanager: cannot post to Slack");
                        None
                    }
                }
            }
            Destination::Github(repo) => {
                let gh = self.github.as_ref()?;
                let title = format!("Alert: {}", n.title());
                let issue = gh.open(repo, &title, &header(n)).await?;
                Some(Spot::Github {
                    repo: repo.clone(),
                    issue,
                })
            }
            Destination::Discord(channel) => {
                let dc = self.discord.as_ref()?;
                let message = dc.post(channel, &header(n)).await?;
                Some(Spot::Discord {
                    channel: channel.clone(),
                    message,
                })
            }
        }
    }

    /// A repeat: the group's first message (issue body) now counts it.
    pub async fn repeated(&self, spot: &Spot, n: &Notification, notifications: u32) {
        let text = format!("{}\n_{notifications} notifications_", header(n));
        match spot {
            Spot::Slack { channel, ts } => {
                if let Some(slack) = &self.slack {
                    if let Err(e) = slack.edit(channel, ts, &text).await {
                        tracing::error!(channel, error = %e, "alertmanager: cannot edit a Slack message");
                    }
                }
            }
            Spot::Github { repo, issue } => {
                if let Some(gh) = &self.github {
                    gh.edit(repo, *issue, &text).await;
                }
            }
            Spot::Discord { channel, message } => {
                if let Some(dc) = &self.discord {
                    dc.edit(channel, message, &text).await;
                }
            }
        }
    }

    /// A note under the group: a thread reply, an issue comment, a
    /// message in the channel.
    pub async fn note(&self, spot: &Spot, text: &str) {
        match spot {
            Spot::Slack { channel, ts } => {
                if let Some(slack) = &self.slack {
                    if let Err(e) = slack.post(channel, Some(ts), text).await {
                        tracing::error!(channel, error = %e, "alertmanager: cannot post to Slack");
                    }
                }
            }
            Spot::Github { repo, issue } => {
                if let Some(gh) = &self.github {
                    gh.comment(repo, *issue, text).await;
                }
            }
            Spot::Discord { channel, .. } => {
                if let Some(dc) = &self.discord {
                    dc.post(channel, text).await;
                }
            }
        }
    }

    /// Every alert of the group ended: say so, and close its issue.
    pub async fn resolved(&self, spot: &Spot) {
        self.note(spot, RESOLVED).await;
        self.close(spot).await;
    }

    /// Close the spot where that means something (a GitHub issue); a
    /// message or thread stays as it is. For a group first heard of when it
    /// was already resolved, whose header says so itself.
    pub async fn close(&self, spot: &Spot) {
        if let (Spot::Github { repo, issue }, Some(gh)) = (spot, &self.github) {
            gh.close(repo, *issue).await;
        }
    }

    /// A resolved group fires again: say so, and reopen its issue.
    pub async fn firing_again(&self, spot: &Spot) {
        if let (Spot::Github { repo, issue }, Some(gh)) = (spot, &self.github) {
            gh.reopen(repo, *issue).await;
        }
        self.note(spot, FIRING_AGAIN).await;
    }

    /// Renders a run's updates at the spot until the last one.
    pub async fn follow(&self, spot: Spot, rx: UnboundedReceiver<Update>) {
        match spot {
            Spot::Slack { channel, ts } => {
                if let Some(slack) = &self.slack {
                    slack.follow(&channel, &ts, rx).await;
                }
            }
            Spot::Github { repo, issue } => {
                if let Some(gh) = &self.github {
                    gh.follow(&repo, issue, rx).await;
                }
            }
            Spot::Discord { channel, .. } => {
                if let Some(dc) = &self.discord {
                    dc.follow(&channel, rx).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spot_of_a_group_survives_the_audit_where_and_back() {
        let all = vec![
            Spot::Slack {
                channel: "C1".into(),
                ts: "1.2".into(),
            },
            Spot::Github {
                repo: "o/r".into(),
                issue: 7,
            },
            Spot::Discord {
                channel: "5".into(),
                message: "6".into(),
            },
        ];
        let p = place("{}:{alertname=\"X\"}", "opsbot", &all);
        let json = serde_json::to_value(crate::chat::Place::Alert(p)).unwrap();
        let back: crate::chat::Place = serde_json::from_value(json).unwrap();
        let crate::chat::Place::Alert(back) = back else {
            panic!("not an alert place: {back:?}");
        };
        assert_eq!(spots(&back), all);
    }
}
