//! A throwaway PostgreSQL server for tests, started from the Debian server
//! binaries (`initdb`, `postgres` in `/usr/lib/postgresql/*/bin` or on PATH)
//! in a temp dir, on a free loopback port.
//!
//! `initdb` refuses to run as root, so when the tests run as root the server
//! runs as `postgres` (or `nobody`) via `runuser`, in a temp dir chowned to
//! that user. The server is supervised by a tiny shell that stops it (and
//! removes its dir) as soon as its stdin closes: on [`PgServer`]'s drop, or
//! when the test process exits for any reason, so no server outlives a test
//! run. Missing binaries are a test failure pointing at `scripts/test`, never
//! a silent skip.

#![allow(dead_code)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One running server; stopped when dropped.
pub struct PgServer {
    port: u16,
    dir: PathBuf,
    /// The CA that signed the server's certificate, when it takes TLS only.
    ca: Option<PathBuf>,
    supervisor: Option<Child>,
}

/// The superuser `initdb` creates (trust auth on loopback).
const USER: &str = "opsbot";
/// How long a server may take to start before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the server until its stdin closes (then a fast shutdown), and
/// whenever the server ends removes its dir (keeping the log beside it when
/// the server died on its own, for the failure message).
const SUPERVISOR: &str = r#"
"$1/postgres" -D "$2/data" -p "$3" -k "$2" -c listen_addresses=127.0.0.1 \
  -c fsync=off -c full_page_writes=off -c max_connections=200 >"$2/server.log" 2>&1 &
pid=$!
exec 3<&0
( read -r _ignored <&3 || true; : >"$2/stopping"; kill -INT "$pid" 2>/dev/null ) &
wait "$pid"
[ -e "$2/stopping" ] || cat "$2/server.log" >"$2.log" 2>/dev/null
rm -rf "$2"
"#;

impl PgServer {
    /// The server shared by every test in this test binary (started on first
    /// use, stopped when the process exits). Give each test its own database
    /// with [`PgServer::fresh_database`].
    pub fn shared() -> &'static PgServer {
        static SERVER: OnceLock<PgServer> = OnceLock::new();
        SERVER.get_or_init(PgServer::start)
    }

    /// Starts a new server; panics with the reason (and the server log) when
    /// it cannot.
    pub fn start() -> PgServer {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, postgres) were not found in \
                 /usr/lib/postgresql/*/bin or on PATH. The audit store tests need a real \
                 PostgreSQL: run `scripts/test` (it installs Debian's `postgresql` package) \
                 or `apt-get install postgresql`."
            )
        });
        let mut last_error = String::new();
        for _attempt in 0..3 {
            match try_start(&bin, false) {
                Ok(server) => return server,
                // Most likely the free port was taken meanwhile: try another.
                Err(e) => last_error = e,
            }
        }
        panic!("could not start a throwaway PostgreSQL server: {last_error}");
    }

    /// A server that accepts only TLS connections on TCP, with the
    /// simulator's fixed test certificate (SANs 127.0.0.1 and localhost).
    pub fn start_tls() -> PgServer {
        let bin = find_bin_dir().expect("PostgreSQL server binaries (see PgServer::start)");
        let mut last_error = String::new();
        for _attempt in 0..3 {
            match try_start(&bin, true) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start a throwaway TLS PostgreSQL server: {last_error}");
    }

    /// The PEM file of the CA a TLS server's certificate chains to.
    pub fn ca_file(&self) -> PathBuf {
        self.ca.clone().expect("a server started with start_tls")
    }

    /// Stop (SIGSTOP) the server and every backend serving a connection, so
    /// it accepts bytes and never answers, like a blackholed host; resumed
    /// when the guard drops.
    pub fn pause(&self) -> Paused {
        let pid_file = self.dir.join("data/postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).expect("postmaster.pid");
        let postmaster: i32 = text.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        for pid in &pids {
            // SAFETY: signalling processes this test started.
            unsafe { libc::kill(*pid, libc::SIGSTOP) };
        }
        Paused(pids)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://opsbot@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database no other test uses and returns its URL.
    pub async fn fresh_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect to the throwaway PostgreSQL as its superuser");
        let task = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        drop(client);
        let _ = task.await;
        self.url(&name)
    }
}

/// Stopped server processes, continued on drop.
pub struct Paused(Vec<i32>);

impl Drop for Paused {
    fn drop(&mut self) {
        for pid in &self.0 {
            // SAFETY: continuing processes this test stopped.
            unsafe { libc::kill(*pid, libc::SIGCONT) };
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.supervisor.take() {
            drop(child.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The directory holding both `initdb` and `postgres`: Debian's versioned
/// dirs first (newest version first), then PATH.
fn find_bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
}

/// Who runs the server: ourselves, or (as root) an unprivileged account.
enum RunAs {
    Me,
    User { name: String, uid: u32, gid: u32 },
}

fn id_of(flag: &str, user: Option<&str>) -> Option<u32> {
    let mut cmd = Command::new("id");
    cmd.arg(flag);
    if let Some(u) = user {
        cmd.arg(u);
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn run_as() -> RunAs {
    if id_of("-u", None) != Some(0) {
        return RunAs::Me;
    }
    for name in ["postgres", "nobody"] {
        if let (Some(uid), Some(gid)) = (id_of("-u", Some(name)), id_of("-g", Some(name))) {
            return RunAs::User {
                name: name.to_owned(),
                uid,
                gid,
            };
        }
    }
    panic!("running as root, but neither a `postgres` nor a `nobody` user exists to run PostgreSQL as (initdb refuses root)");
}

impl RunAs {
    /// A command that runs `program args...` as this identity.
    fn command(&self, program: &Path) -> Command {
        match self {
            RunAs::Me => Command::new(program),
            RunAs::User { name, .. } if has_runuser() => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", name, "--"]).arg(program);
                cmd
            }
            RunAs::User { name, .. } => {
                // `su -s /bin/sh -c 'exec "$0" "$@"' USER -- PROGRAM ARGS...`:
                // after `--` su passes everything to the shell, so arguments
                // added later land in "$@" (not in su's own options).
                let mut cmd = Command::new("su");
                cmd.args(["-s", "/bin/sh", "-c", "exec \"$0\" \"$@\"", name, "--"])
                    .arg(program);
                cmd
            }
        }
    }
}

fn has_runuser() -> bool {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.iter().any(|d| d.join("runuser").is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port to find a free one")
}

fn try_start(bin: &Path, tls: bool) -> Result<PgServer, String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let who = run_as();
    let dir = std::env::temp_dir().join(format!(
        "opsbot-pg-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    if let RunAs::User { uid, gid, .. } = &who {
        std::os::unix::fs::chown(&dir, Some(*uid), Some(*gid))
            .map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    let out = who
        .command(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .output()
        .map_err(|e| format!("run initdb: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let ca = if tls {
        Some(enable_tls_only(&dir, &data, &who)?)
    } else {
        None
    };
    let port = free_port();
    let mut cmd = who.command(Path::new("/bin/sh"));
    let supervisor = cmd
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("opsbot-pg")
        .arg(bin)
        .arg(&dir)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start postgres: {e}"))?;
    let mut server = PgServer {
        port,
        dir: dir.clone(),
        ca,
        supervisor: Some(supervisor),
    };
    let log = dir.join("server.log");
    let final_log = dir.with_extension("log");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let text = read_log(&log);
        if text.contains("database system is ready to accept connections") {
            return Ok(server);
        }
        let exited = server
            .supervisor
            .as_mut()
            .map(|c| matches!(c.try_wait(), Ok(Some(_))))
            .unwrap_or(true);
        if exited || Instant::now() > deadline {
            drop(server);
            let text = read_log(&final_log);
            let _ = std::fs::remove_file(&final_log);
            let why = if exited {
                "exited"
            } else {
                "did not become ready in time"
            };
            return Err(format!("postgres {why}; its log:\n{text}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Give the data directory the test certificate, turn TLS on and refuse
/// plaintext TCP (the Unix socket stays open for administration). Returns
/// the CA file (outside the data directory, which the server owns).
fn enable_tls_only(dir: &Path, data: &Path, who: &RunAs) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let write = |path: &Path, text: &str, mode: u32| -> Result<(), String> {
        std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
        if let RunAs::User { uid, gid, .. } = who {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .map_err(|e| format!("chown {}: {e}", path.display()))?;
        }
        Ok(())
    };
    write(
        &data.join("server.crt"),
        opsbot_sim::tls::SERVER_CERT_PEM,
        0o644,
    )?;
    write(
        &data.join("server.key"),
        opsbot_sim::tls::SERVER_KEY_PEM,
        0o600,
    )?;
    let conf = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).map_err(|e| format!("read conf: {e}"))?;
    text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
    write(&conf, &text, 0o600)?;
    write(
        &data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        0o600,
    )?;
    let ca = dir.with_extension("ca.pem");
    std::fs::write(&ca, opsbot_sim::tls::CA_PEM).map_err(|e| format!("write CA: {e}"))?;
    Ok(ca)
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    text
}
