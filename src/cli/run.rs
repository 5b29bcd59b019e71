//! `opsbot run --config FILE --as PERSON TEXT`: one command from the shell,
//! down the same path as chat; the exit code says how it ended (0 success,
//! 1 failure or refusal, 3 waiting for approval).

use std::time::Duration;

use tokio::sync::mpsc;

use crate::app::App;
use crate::chat::console;
use crate::config::Config;
use crate::runs::Limits;

pub async fn run(config: Config, as_person: &str, text: &str) -> anyhow::Result<u8> {
    let app = App::build(config, Limits::default()).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let ending = console::exec(&app.runs, as_person, text, &tx, &mut rx, &mut |s| {
        println!("{s}")
    })
    .await;
    app.runs.shutdown(Duration::from_secs(5)).await;
    Ok(ending.exit_code())
}
