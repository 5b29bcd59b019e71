//! `opsbot check`: config, commands and playbooks validated together; every
//! problem printed with its `file:line:col`, exit 1 when there is any.

use std::path::PathBuf;

use crate::app::pack;
use crate::config::Config;

use super::env;

pub fn run(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let result = match &config {
        Some(path) => match Config::load(path, &env) {
            Ok(cfg) => pack::load_all(&cfg).map(|(g, p)| (g.commands().len(), p.iter().count())),
            Err(d) => Err(d),
        },
        None => pack::load_dirs("commands".as_ref(), "playbooks".as_ref())
            .map(|(g, p)| (g.commands().len(), p.iter().count())),
    };
    match result {
        Ok((commands, playbooks)) => {
            println!("ok: {commands} commands, {playbooks} playbooks");
            Ok(0)
        }
        Err(problems) => {
            eprintln!("{problems}");
            eprintln!("{} problem(s) found", problems.0.len());
            Ok(1)
        }
    }
}
