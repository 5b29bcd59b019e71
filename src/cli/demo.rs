//! `opsbot demo`: the embedded default a new user runs first.
//!
//! Everything is inside the binary: the simulated fleet (`examples/fleet`),
//! the commands and playbooks, and a config with people in different roles.
//! It starts the simulator on loopback, the HTTP server, a SQLite audit log,
//! and a console prompt. Platform endpoints join whenever their environment
//! variables are set (DESIGN §4), so a real app can talk to the simulated fleet.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use include_dir::{include_dir, Dir};
use tokio::sync::mpsc;

use crate::app::App;
use crate::chat::console::{self, Ending};
use crate::config::Config;
use crate::runs::Limits;
use opsbot_sim::{Fleet, HubEndpoint, Seed};

use crate::app::pack::{COMMANDS, PLAYBOOKS};
static FLEET: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/examples/fleet");

/// Arguments of `opsbot demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address of the HTTP server (health, metrics, platform endpoints).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve HTTP only, without the interactive prompt.
    #[arg(long)]
    pub no_console: bool,
    /// Run one command, print its answer and exit (non-zero when it failed or was refused).
    #[arg(long, value_name = "TEXT")]
    pub exec: Option<String>,
    /// Who you are at the prompt or for --exec.
    #[arg(long = "as", value_name = "PERSON", default_value = "alice")]
    pub as_person: String,
    /// Print the demo's effective config (people, their platform ids, roles, hubs) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Audit store; default a SQLite file in the current directory.
    #[arg(
        long,
        env = "OPSBOT_AUDIT_URL",
        default_value = "sqlite://opsbot-demo.db"
    )]
    pub audit: String,
    /// Use this seed directory instead of the embedded fleet.
    #[arg(long, value_name = "DIR")]
    pub seed: Option<PathBuf>,
}

impl DemoArgs {
    /// The defaults, with the audit log at `audit` and the HTTP server on an
    /// ephemeral port: how tests and embedders start a demo in-process.
    pub fn embedded(audit: impl Into<String>) -> DemoArgs {
        DemoArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            no_console: true,
            exec: None,
            as_person: "alice".into(),
            print_config: false,
            audit: audit.into(),
            seed: None,
        }
    }
}

/// The demo's people and roles: an engineer who may run and approve
/// everything, a second engineer to approve, a support person with
/// read-only commands, and a hub admin scoped to one hub.
const PEOPLE_AND_ROLES: &str = r#"
people:
  - { id: alice, name: Alice Engineer, slack: U0DEMOALICE, github: alice-demo, discord: "100000000000000001", roles: [engineer] }
  - { id: carol, name: Carol Engineer, slack: U0DEMOCAROL, github: carol-demo, discord: "100000000000000003", roles: [engineer] }
  - { id: bob, name: Bob Support, slack: U0DEMOBOB, github: bob-demo, discord: "100000000000000002", roles: [support] }
  - { id: dave, name: Dave Staging-Admin, slack: U0DEMODAVE, github: dave-demo, discord: "100000000000000004", roles: [support, staging-admin] }
  # Who the runs alerts start are requested as (read-only; see `alertmanager:`).
  - { id: alertmanager, name: Alertmanager, roles: [alerts] }
roles:
  engineer: { run: ["*"], approve: ["*"] }
  support: { run: ["hub status", "hub load", "hub slow", "pool usage", "users", "user status", "logs", "events", "fleet status", "nodes", "triage", "pending", "stuck", "dask clusters", "help", "runs", "audit", "clusters", "hubs"] }
  alerts: { run: ["hub status", "users", "user status", "logs", "events", "triage", "pending", "stuck", "nodes", "fleet status"] }
  staging-admin: { run: ["hub restart", "user stop"], approve: ["hub restart", "user stop"], scope: { hubs: [staging] } }
policy:
  approval_ttl: 1h
slack:
  # A read-only channel: only these commands run there.
  channels: { C0READONLY: ["hub status", "users", "user status", "help"] }
discord:
  # Members of the guild's "staging admins" role may restart staging.
  roles: { "900000000000000001": [staging-admin] }
"#;

/// The receiver, on when `OPSBOT_ALERTMANAGER_TOKEN` is set: the shipped
/// routes for kube-prometheus alerts, posting to the demo's channel C0ALERTS.
const ALERTMANAGER: &str = r##"
alertmanager:
  token: "${OPSBOT_ALERTMANAGER_TOKEN}"
  slack_channel: C0ALERTS
"##;

/// A running demo: the fleet must outlive the app that talks to it.
pub struct Demo {
    pub app: App,
    pub config_text: String,
    pub fleet: Fleet,
    /// Keeps the simulator's own runtime alive; dropping it stops that runtime.
    _sim_runtime: SimRuntime,
    pub dir: PathBuf,
}

impl Demo {
    /// Unpack the embedded files into `dir`, start the fleet, build the app.
    pub async fn start(args: &DemoArgs, dir: &Path) -> anyhow::Result<Demo> {
        Demo::start_with(args, dir, Limits::default(), &|k: &str| {
            std::env::var(k).ok()
        })
        .await
    }

    /// [`Demo::start`] with explicit runner limits and environment (tests use
    /// tiny queues to see the "busy" answer, and their own platform secrets).
    pub async fn start_with(
        args: &DemoArgs,
        dir: &Path,
        limits: Limits,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Demo> {
        for (embedded, sub) in [
            (&COMMANDS, "commands"),
            (&PLAYBOOKS, "playbooks"),
            (&FLEET, "fleet"),
        ] {
            let target = dir.join(sub);
            std::fs::create_dir_all(&target)?;
            embedded
                .extract(&target)
                .with_context(|| format!("unpacking the demo's {sub} into {}", target.display()))?;
        }
        let seed_dir = args.seed.clone().unwrap_or_else(|| dir.join("fleet"));
        let seed = Seed::from_dir(&seed_dir)?;
        let (fleet, sim_runtime) = start_fleet_apart(seed).await?;
        let kubeconfig = dir.join("kubeconfig");
        fleet.write_kubeconfig(&kubeconfig)?;
        let hubs = write_hub_tokens(dir, &fleet.hub_endpoints())?;
        // The demo's fleet has no Prometheus; one given here (a stand-in in
        // tests, or a real one to try `hub load` and charts) serves every
        // demo cluster.
        let prometheus = env("OPSBOT_DEMO_PROMETHEUS_URL").filter(|u| !u.is_empty());
        let has_token = env("OPSBOT_DEMO_PROMETHEUS_TOKEN").is_some_and(|t| !t.is_empty());
        let mut config_text = config_text(
            args,
            dir,
            &kubeconfig,
            &fleet.cluster_names(),
            &hubs,
            prometheus.as_deref().map(|u| (u, has_token)),
        );
        if env("OPSBOT_ALERTMANAGER_TOKEN").is_some_and(|t| !t.is_empty()) {
            config_text.push_str(ALERTMANAGER);
        }
        let config = Config::from_str("<demo config>", &config_text, dir, env)
            .map_err(|d| anyhow::anyhow!("{d}"))?;
        let app = App::build(config, limits).await?;
        Ok(Demo {
            app,
            config_text,
            fleet,
            _sim_runtime: sim_runtime,
            dir: dir.to_path_buf(),
        })
    }
}

/// The demo's config lives in a temporary directory that is removed at exit;
/// a relative `sqlite://` path means the current directory (as `--audit`
/// says), so `opsbot audit list` finds the demo's runs afterwards.
fn audit_url_here(url: &str) -> String {
    match url.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() && !Path::new(path).is_absolute() => {
            match std::env::current_dir() {
                Ok(cwd) => format!("sqlite://{}", cwd.join(path).display()),
                Err(_) => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A simulated hub as the demo declares it: its REST API's URL and the file
/// holding its token (the config refers to it as `${file:…}`, as a real
/// deployment would to a mounted secret).
struct DemoHub {
    name: String,
    cluster: String,
    namespace: String,
    url: String,
    token_file: std::path::PathBuf,
}

fn write_hub_tokens(dir: &Path, endpoints: &[HubEndpoint]) -> anyhow::Result<Vec<DemoHub>> {
    let tokens = dir.join("hub-tokens");
    std::fs::create_dir_all(&tokens)?;
    let mut out = Vec::new();
    for e in endpoints {
        let shared = endpoints
            .iter()
            .filter(|o| o.namespace == e.namespace)
            .count()
            > 1;
        let name = if shared {
            format!("{}-{}", e.cluster, e.namespace)
        } else {
            e.namespace.clone()
        };
        let token_file = tokens.join(&name);
        std::fs::write(&token_file, &e.token)
            .with_context(|| format!("writing {}", token_file.display()))?;
        out.push(DemoHub {
            name,
            cluster: e.cluster.clone(),
            namespace: e.namespace.clone(),
            url: e.url.clone(),
            token_file,
        });
    }
    Ok(out)
}

fn config_text(
    args: &DemoArgs,
    dir: &Path,
    kubeconfig: &Path,
    clusters: &[String],
    hubs: &[DemoHub],
    prometheus: Option<(&str, bool)>,
) -> String {
    let q = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap_or_default();
    let mut text = format!(
        "listen: {}\naudit: {{ url: {} }}\ncommands: {}\nplaybooks: {}\ndiscover_hubs: true\nclusters:\n",
        args.listen,
        serde_json::to_string(&audit_url_here(&args.audit)).unwrap_or_default(),
        q(&dir.join("commands")),
        q(&dir.join("playbooks")),
    );
    let prometheus = prometheus
        .map(|(u, token)| {
            // The token stays in the environment: the config names it.
            let token = if token {
                ", token: \"${OPSBOT_DEMO_PROMETHEUS_TOKEN}\""
            } else {
                ""
            };
            format!(
                ", prometheus: {{ url: {}{token} }}",
                serde_json::to_string(u).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    for c in clusters {
        text.push_str(&format!(
            "  - {{ name: {c}, kubeconfig: {}, context: {c}{prometheus} }}\n",
            q(kubeconfig)
        ));
    }
    if !hubs.is_empty() {
        // Declared with their REST API; any other hub is still discovered.
        text.push_str("hubs:\n");
        for h in hubs {
            text.push_str(&format!(
                "  - {{ name: {}, cluster: {}, namespace: {}, jupyterhub_api: {{ url: {}, token: \"${{file:{}}}\" }} }}\n",
                h.name,
                h.cluster,
                h.namespace,
                serde_json::to_string(&h.url).unwrap_or_default(),
                h.token_file.display()
            ));
        }
    }
    text.push_str(PEOPLE_AND_ROLES);
    text
}

/// Dropping this stops the simulator's runtime thread.
struct SimRuntime(#[allow(dead_code)] tokio::sync::oneshot::Sender<()>);

/// Start the simulated fleet on its own small runtime (one worker thread).
/// The demo's clusters stand in for remote API servers: keeping their work
/// off opsbot's runtime means the simulator cannot starve opsbot's own
/// acknowledgements, as a real cluster elsewhere would not.
async fn start_fleet_apart(seed: Seed) -> anyhow::Result<(Fleet, SimRuntime)> {
    let (fleet_tx, fleet_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("opsbot-sim".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("opsbot-sim")
                .on_thread_start(|| crate::runs::lower_priority(10))
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = fleet_tx.send(Err(anyhow::anyhow!(
                        "cannot start the simulator's runtime: {e}"
                    )));
                    return;
                }
            };
            runtime.block_on(async move {
                let started =
                    Fleet::start(seed, "127.0.0.1:0".parse().expect("a literal address")).await;
                if fleet_tx.send(started).is_ok() {
                    let _ = stop_rx.await;
                }
            });
        })
        .context("cannot start the simulator's thread")?;
    let fleet = fleet_rx
        .await
        .context("the simulator's thread ended early")??;
    Ok((fleet, SimRuntime(stop_tx)))
}

/// `opsbot demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let dir = std::env::temp_dir().join(format!("opsbot-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(args: &DemoArgs, dir: &Path) -> anyhow::Result<u8> {
    let demo = Demo::start(args, dir).await?;
    if args.print_config {
        let config = &demo.app.runs.context().config;
        println!("{}", config.to_yaml_redacted());
        // Hubs found at runtime are not part of the file: list them as a
        // comment so the output stays one valid YAML document.
        let discovered: Vec<_> = demo
            .app
            .runs
            .context()
            .hubs
            .all()
            .iter()
            .filter(|h| h.source == "discovered")
            .collect();
        if !discovered.is_empty() {
            println!("# hubs discovered on the clusters (discover_hubs: true):");
            for h in discovered {
                println!(
                    "#   - {{ name: {}, cluster: {}, namespace: {} }}",
                    h.name, h.cluster, h.namespace
                );
            }
        }
        return Ok(0);
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Some(text) = &args.exec {
        let ending = console::exec(
            &demo.app.runs,
            &args.as_person,
            text,
            &tx,
            &mut rx,
            &mut |s| println!("{s}"),
        )
        .await;
        demo.app.runs.shutdown(Duration::from_secs(5)).await;
        return Ok(ending.exit_code());
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another opsbot running? use --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let stop = tokio_util::sync::CancellationToken::new();
    crate::app::server::start_watch_cache(&demo.app, &stop);
    crate::app::server::start_sockets(&demo.app, stop.clone());
    crate::app::server::start_schedules(&demo.app, stop.clone())?;
    let limits = demo.app.runs.context().config.http.clone();
    let router = crate::app::server::router(demo.app.clone())?;
    let shutdown = stop.clone().cancelled_owned();
    let server = tokio::spawn(async move {
        crate::app::server::serve(listener, router, shutdown, &limits).await
    });
    eprintln!("opsbot demo: {} simulated clusters ({}), {} hubs; HTTP on http://{addr} (/healthz, /readyz, /metrics)",
        demo.fleet.cluster_names().len(), demo.fleet.cluster_names().join(", "), demo.app.runs.context().hubs.all().len());
    eprintln!(
        "kubectl works too: kubectl --kubeconfig {} get pods -A",
        demo.dir.join("kubeconfig").display()
    );
    let live: Vec<&str> = [
        demo.app
            .platforms
            .slack
            .as_ref()
            .map(|_| "Slack (/slack/commands, /slack/events, /slack/interactions)"),
        demo.app
            .platforms
            .discord
            .as_ref()
            .map(|_| "Discord (/discord/interactions)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !live.is_empty() {
        eprintln!("chat platforms live: {}", live.join(", "));
    }
    if args.no_console {
        crate::cli::shutdown_signal().await;
    } else {
        prompt(&demo, &args.as_person, tx, rx).await?;
    }
    stop.cancel();
    demo.app.runs.shutdown(Duration::from_secs(10)).await;
    let _ = server.await;
    Ok(0)
}

/// The interactive prompt: history, `:as PERSON`, `:approve RUN [PERSON]`.
async fn prompt(
    demo: &Demo,
    first: &str,
    tx: mpsc::UnboundedSender<crate::chat::Update>,
    mut rx: mpsc::UnboundedReceiver<crate::chat::Update>,
) -> anyhow::Result<()> {
    let config = demo.app.runs.context().config.clone();
    let mut me = first.to_string();
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".opsbot_demo_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("Type `help` for commands; `:as bob` switches who you are; `:approve RUN [PERSON]` approves as someone else; `:quit` leaves.");
    loop {
        let line = tokio::task::block_in_place(|| editor.readline(&format!("{me}@opsbot> ")));
        let line = match line {
            Ok(l) => l,
            Err(
                rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof,
            ) => break,
            Err(e) => return Err(e.into()),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line);
        let (who, text) = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [":quit" | ":q" | ":exit"] => break,
            [":as", person] => {
                if config.person(person).is_some() {
                    me = person.to_string();
                } else {
                    let ids: Vec<&str> = config.people.iter().map(|p| p.id.as_str()).collect();
                    println!("no person `{person}`; people: {}", ids.join(", "));
                }
                continue;
            }
            [":who"] => {
                for p in &config.people {
                    println!("{:<6} roles: {}", p.id, p.roles.join(", "));
                }
                continue;
            }
            [":approve", run, rest @ ..] => {
                let approver = match rest.first() {
                    Some(p) => p.to_string(),
                    None => config
                        .people
                        .iter()
                        .find(|p| p.id != me && p.roles.iter().any(|r| r == "engineer"))
                        .map(|p| p.id.clone())
                        .unwrap_or_else(|| me.clone()),
                };
                (approver, format!("approve {run}"))
            }
            _ => (me.clone(), line.to_string()),
        };
        let ending = console::exec(&demo.app.runs, &who, &text, &tx, &mut rx, &mut |s| {
            println!("{s}")
        })
        .await;
        if ending == Ending::AwaitingApproval {
            println!("(`:approve RUN` approves as another engineer)");
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}
