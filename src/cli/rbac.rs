//! `opsbot rbac`: print the least-privilege ClusterRole covering every enabled
//! playbook (and the people opsbot impersonates).

use std::path::PathBuf;

use crate::app::pack;
use crate::playbook::rbac;

use super::load_config;

pub fn run(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let (playbooks, users) = match &config {
        Some(path) => {
            let cfg = load_config(path)?;
            let (_, pbs) = pack::load_all(&cfg).map_err(|d| anyhow::anyhow!("{d}"))?;
            let users: Vec<String> = cfg
                .people
                .iter()
                .filter_map(|p| p.kube_user.clone())
                .collect();
            (pbs, users)
        }
        None => (
            crate::playbook::Playbooks::load_dir("playbooks".as_ref())
                .map_err(|d| anyhow::anyhow!("{d}"))?,
            vec![],
        ),
    };
    let rules = rbac::rules(&rbac::permissions(&playbooks), &users);
    print!("{}", rbac::cluster_role_yaml("opsbot", &rules));
    Ok(0)
}
