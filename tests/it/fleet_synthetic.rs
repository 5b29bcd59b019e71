//! Issue 14, the fleet at scale: `opsbot sim --synthetic` generates a fleet
//! and the opsbot.yaml for it, and the fleet-wide commands answer for every
//! hub through the binary, each hub with its own users (several hubs share
//! a cluster, and the same user names recur on every hub).

use opsbot_sim::synthetic::{Shape, UserState};

use crate::support::binary::{opsbot_run, output_text, SimProcess};

/// The lines of `text` under the bullet that starts with `head`, up to the next top-level bullet.
fn block<'a>(text: &'a str, head: &str) -> Option<Vec<&'a str>> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(head));
    let first = lines.next()?;
    let mut out = vec![first];
    out.extend(lines.take_while(|l| l.starts_with("  ")));
    Some(out)
}

#[test]
fn pending_all_on_a_synthetic_fleet_lists_each_hubs_pending_users_under_that_hub_only() {
    let text = "2x3x5";
    let shape: Shape = text.parse().unwrap();
    let (_sim, config) = SimProcess::start_synthetic(text);
    let out = opsbot_run(&config, "sre", "pending all");
    let answer = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{answer}");
    let mut total = 0;
    for c in 0..shape.clusters {
        for h in 0..shape.hubs {
            let hub = shape.hub_name(c, h);
            let pending: Vec<String> = (0..shape.users)
                .filter(|&u| shape.user_state(c, h, u).is_pending())
                .map(|u| shape.user_name(u))
                .collect();
            total += pending.len();
            let head = format!("- **{hub}** ({}/{hub}): ", shape.cluster_name(c));
            let Some(lines) = block(&answer, &head) else {
                assert!(
                    pending.is_empty(),
                    "{hub} missing, expected {pending:?}:\n{answer}"
                );
                continue;
            };
            assert!(!pending.is_empty(), "{hub} has no pending user:\n{answer}");
            assert_eq!(lines[0], format!("{head}{}", pending.len()), "{answer}");
            let mut shown: Vec<String> = lines[1..]
                .iter()
                .filter_map(|l| l.rsplit_once("): "))
                .flat_map(|(_, users)| users.split(", ").map(str::to_string))
                .collect();
            shown.sort();
            let mut want = pending.clone();
            want.sort();
            assert_eq!(shown, want, "{hub}:\n{answer}");
        }
    }
    assert!(total > 0, "the shape has pending users");
    assert!(
        answer.contains(&format!(
            "**{total} pending user servers across {} hubs**",
            shape.clusters * shape.hubs
        )),
        "{answer}"
    );
    assert!(
        answer.contains("No node has enough free memory"),
        "the FailedScheduling servers are explained: {answer}"
    );
}

#[test]
fn fleet_status_on_a_synthetic_fleet_counts_each_hubs_running_servers() {
    let text = "2x3x5";
    let shape: Shape = text.parse().unwrap();
    let (_sim, config) = SimProcess::start_synthetic(text);
    let out = opsbot_run(&config, "sre", "fleet status");
    let answer = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{answer}");
    assert!(answer.contains("**Fleet: 6 hubs**"), "{answer}");
    for c in 0..shape.clusters {
        for h in 0..shape.hubs {
            let hub = shape.hub_name(c, h);
            let running = (0..shape.users)
                .filter(|&u| {
                    matches!(
                        shape.user_state(c, h, u),
                        UserState::Running | UserState::CrashLoopBackOff
                    )
                })
                .count();
            let line = format!(
                "- {hub} ({}/{hub}): hub 1/1 ok, {running} users running",
                shape.cluster_name(c)
            );
            assert!(answer.contains(&line), "want {line:?}:\n{answer}");
        }
    }
}
