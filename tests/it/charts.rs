//! Issue 18's pictures: `hub load` asked in Slack, with the demo's clusters
//! pointed at the loopback stand-in Prometheus, ends with its chart
//! uploaded into the run's thread as a PNG of the chart size, through the
//! recording fake Slack Web API.

use crate::prometheus_steps::{fake_prometheus, TOKEN};
use crate::support::bot::Bot;
use crate::support::slack::{self, sign, slash_form, FakeSlack, SIGNING_SECRET};

/// Bob's Slack id in the demo's people (see `opsbot demo --print-config`).
const BOB: &str = "U0DEMOBOB";
const CHANNEL: &str = "C0SUPPORT";

/// Width and height from a PNG's header, read by a real decoder (which
/// also checks the signature and the header's CRC).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("a valid PNG header");
    let info = reader.info();
    (info.width, info.height)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_load_in_slack_uploads_its_chart_into_the_run_thread_as_a_png_of_the_chart_size() {
    let prometheus = fake_prometheus().await;
    let fake = FakeSlack::start().await;
    let api = fake.api_url();
    let bot = Bot::start_with_env(&[
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
        ("SLACK_BOT_TOKEN", slack::BOT_TOKEN),
        ("SLACK_API_URL", api.as_str()),
        ("OPSBOT_DEMO_PROMETHEUS_URL", prometheus.as_str()),
        ("OPSBOT_DEMO_PROMETHEUS_TOKEN", TOKEN),
    ])
    .await;
    let router = opsbot::app::server::router(bot.demo.app.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let body = slash_form(BOB, CHANNEL, "hub load staging").into_bytes();
    let ts = chrono::Utc::now().timestamp();
    let ack = reqwest::Client::new()
        .post(format!("{base}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SIGNING_SECRET, ts, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 200);
    fake.wait_until("the audit reference closes the thread", |f| {
        f.messages()
            .iter()
            .any(|m| m.all_text().contains("/ops audit 1"))
    })
    .await;

    let messages = fake.messages();
    let answer = messages
        .iter()
        .find(|m| m.all_text().contains("Load of staging"))
        .unwrap_or_else(|| {
            let texts: Vec<String> = messages.iter().map(|m| m.all_text()).collect();
            panic!("no text answer among {texts:#?}")
        });
    assert!(
        answer.all_text().contains("running servers over 6h"),
        "{}",
        answer.all_text()
    );
    let root = &messages[0];
    let complete = fake.calls_to("files.completeUploadExternal");
    let chart = complete
        .iter()
        .find(|c| c.body["files"][0]["title"] == "Running servers on staging, last 6h")
        .unwrap_or_else(|| panic!("no chart upload among {complete:#?}"));
    assert_eq!(chart.body["channel_id"], CHANNEL);
    assert_eq!(
        chart.body["thread_ts"],
        root.ts.as_str(),
        "in the run's thread"
    );
    let requested = fake.calls_to("files.getUploadURLExternal");
    assert!(
        requested
            .iter()
            .any(|c| c.body["filename"] == "hub-load-running-over-time.png"),
        "{requested:#?}"
    );
    let id = chart.body["files"][0]["id"].as_str().unwrap();
    let bytes = fake.uploaded(id).expect("the chart's bytes were uploaded");
    assert_eq!(
        png_size(&bytes),
        (opsbot::chart::WIDTH, opsbot::chart::HEIGHT)
    );
    assert_eq!((opsbot::chart::WIDTH, opsbot::chart::HEIGHT), (800, 300));
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
