//! Socket Mode against a local WebSocket server speaking Slack's envelope
//! and ack protocol: the URL comes from the fake `apps.connections.open`,
//! every envelope is acked (after the request is recorded), slash commands
//! carry their answer in the ack payload, and `disconnect` reconnects.

use crate::support::slack as support;
use opsbot::chat::RunId;

use futures::{SinkExt, StreamExt};
use opsbot::chat::{Request, Update};
use secrecy::SecretString;
use serde_json::{json, Value};
use support::{FakeCore, FakeSlack, Script, APP_TOKEN, WAIT};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

type Socket = WebSocketStream<TcpStream>;

async fn accept(listener: &TcpListener) -> Socket {
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("opsbot connects")
        .unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A123456"}})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    ws
}

async fn send(ws: &mut Socket, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The next ack frame (text), skipping control frames.
async fn next_ack(ws: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("an ack arrives")
            .expect("the socket stays open")
            .unwrap();
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

fn slash_envelope(id: &str, text: &str) -> Value {
    json!({
        "envelope_id": id,
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": "T0001", "team_domain": "example",
            "channel_id": "C2147483705", "channel_name": "ops", "user_id": "U2147483697",
            "user_name": "steve", "command": "/ops", "text": text, "api_app_id": "A123456",
            "response_url": "https://hooks.slack.com/commands/1234/5678",
            "trigger_id": format!("13345224609.{id}")
        }
    })
}

fn script(req: &Request) -> Script {
    Script {
        now: vec![Update::Accepted {
            run: RunId(42),
            command: req.text.clone(),
            person: "steve".into(),
        }],
        ..Script::default()
    }
}

#[tokio::test]
async fn socket_mode_acks_every_envelope_after_recording_and_reconnects_on_disconnect() {
    let core = FakeCore::new(script);
    let slack = FakeSlack::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    slack.set_socket_url(&format!(
        "ws://{}/link/?ticket=test-ticket",
        listener.local_addr().unwrap()
    ));
    let mut settings = support::settings(&slack.api_url());
    settings.app_token = Some(SecretString::from(APP_TOKEN));
    settings.signing_secret = SecretString::from("");
    let shutdown = CancellationToken::new();
    let client = tokio::spawn(opsbot::chat::slack::run_socket_mode(
        core.clone(),
        settings,
        shutdown.clone(),
    ));

    let mut ws = accept(&listener).await;

    // A slash command: the ack carries the ephemeral answer.
    send(&mut ws, slash_envelope("env-1", "hub status staging")).await;
    let ack = next_ack(&mut ws).await;
    assert_eq!(ack["envelope_id"], "env-1");
    assert_eq!(
        ack["payload"]["text"],
        "running `hub status staging` as run 42"
    );
    assert_eq!(ack["payload"]["response_type"], "ephemeral");
    assert_eq!(core.requests().len(), 1, "recorded before the ack");
    assert_eq!(core.requests()[0].text, "hub status staging");
    // The same renderer as HTTP posts the status message.
    slack
        .wait_until("the status message", |s| !s.messages().is_empty())
        .await;

    // An Events API mention, then Slack's retry of the same event.
    let mut event: Value =
        serde_json::from_str(include_str!("fixtures/slack/event_app_mention.json")).unwrap();
    event["event"]["user"] = json!("U0ALICE");
    send(
        &mut ws,
        json!({"envelope_id": "env-2", "type": "events_api", "accepts_response_payload": false,
               "retry_attempt": 0, "retry_reason": "", "payload": event}),
    )
    .await;
    assert_eq!(next_ack(&mut ws).await, json!({"envelope_id": "env-2"}));
    send(
        &mut ws,
        json!({"envelope_id": "env-3", "type": "events_api", "accepts_response_payload": false,
               "retry_attempt": 1, "retry_reason": "timeout", "payload": event}),
    )
    .await;
    assert_eq!(next_ack(&mut ws).await, json!({"envelope_id": "env-3"}));
    let texts: Vec<String> = core.requests().iter().map(|r| r.text.clone()).collect();
    assert_eq!(texts, ["hub status staging", "user status staging alice"]);

    // A button press.
    let mut press: Value =
        serde_json::from_str(include_str!("fixtures/slack/block_actions.json")).unwrap();
    press["user"]["id"] = json!("U0BOB");
    send(
        &mut ws,
        json!({"envelope_id": "env-4", "type": "interactive", "accepts_response_payload": false, "payload": press}),
    )
    .await;
    assert_eq!(next_ack(&mut ws).await["envelope_id"], "env-4");
    assert_eq!(core.requests()[2].text, "approve 42");
    assert_eq!(core.requests()[2].sender, "U0BOB");

    // Slack rotates the connection: opsbot fetches a new URL and reconnects.
    send(
        &mut ws,
        json!({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "applink-1"}}),
    )
    .await;
    let mut ws = accept(&listener).await;
    send(&mut ws, slash_envelope("env-5", "help")).await;
    assert_eq!(next_ack(&mut ws).await["envelope_id"], "env-5");
    assert_eq!(slack.calls_to("apps.connections.open").len(), 2);
    assert_eq!(core.requests().len(), 4);
    assert_eq!(slack.violations(), Vec::<String>::new());

    shutdown.cancel();
    tokio::time::timeout(WAIT, client)
        .await
        .expect("Socket Mode stops on shutdown")
        .unwrap()
        .unwrap();
}
