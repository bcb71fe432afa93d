//! Helpers for the CLI tests: a per-test environment (data dir, explicit variables, and for
//! PostgreSQL a schema of its own), running `conea` commands in it, and starting `conea serve`
//! as a child process that is stopped with SIGTERM.
//!
//! Every command starts from an empty environment (`env_clear`): only `PATH`, a `HOME` inside
//! the test's temporary directory and the variables the test sets reach the binary, so nothing
//! leaks in from the developer's shell.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_testkit::TestSchema;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// 32+ characters, as PostgreSQL deployments require.
pub const JWT_SECRET: &str = "cli-test-jwt-secret-0123456789abcdef0123456789";
pub const SECRET_KEY: &str = "cli-test-secret-key-0123456789abcdef0123456789";

/// A safety net so that a hanging command fails the test instead of hanging it; never an
/// assertion about how long anything takes.
const COMMAND_DEADLINE: Duration = Duration::from_secs(120);
const SERVER_DEADLINE: Duration = Duration::from_secs(120);

/// `conea db connections --terminate` ends every idle Conea connection of the database, not only
/// its test's: the test that runs it waits for this binary's other PostgreSQL tests to finish,
/// and they wait for it (they hold the read side through their `Env`).
static POSTGRES_TESTS: RwLock<()> = RwLock::new(());

pub fn conea_bin() -> &'static Path {
    assert_cmd::cargo::cargo_bin!("conea")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test's world: a temporary directory (data dir and HOME inside it), the variables set
/// for every command, and the PostgreSQL schema when the backend is PostgreSQL.
pub struct Env {
    pub backend: Backend,
    vars: BTreeMap<String, String>,
    root: tempfile::TempDir,
    // Dropped after `root`; drops the schema.
    _schema: Option<TestSchema>,
    // Released last, after the schema is gone (see `POSTGRES_TESTS`).
    _shared: Option<RwLockReadGuard<'static, ()>>,
    _alone: Option<RwLockWriteGuard<'static, ()>>,
}

impl Env {
    /// The embedded default: nothing but `CONEA_DATA_DIR` (SQLite in the data dir, secrets
    /// generated there).
    pub fn sqlite() -> Env {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(root.path().join("home")).expect("home dir");
        let mut env = Env {
            backend: Backend::Sqlite,
            vars: BTreeMap::new(),
            root,
            _schema: None,
            _shared: None,
            _alone: None,
        };
        let data = env.data_dir().display().to_string();
        env.set("CONEA_DATA_DIR", &data);
        env
    }

    /// PostgreSQL in a schema of its own of `CONEA_TEST_DATABASE_URL`, with both required
    /// secrets; `None` after printing why when that variable is unset.
    pub fn postgres() -> Option<Env> {
        let shared = POSTGRES_TESTS.read().unwrap_or_else(|e| e.into_inner());
        let mut env = Env::postgres_schema()?;
        env._shared = Some(shared);
        Some(env)
    }

    /// Like [`Env::postgres`], while no other PostgreSQL test of this binary runs: for a test
    /// that terminates every idle Conea connection of the database.
    pub fn postgres_alone() -> Option<Env> {
        let alone = POSTGRES_TESTS.write().unwrap_or_else(|e| e.into_inner());
        let mut env = Env::postgres_schema()?;
        env._alone = Some(alone);
        Some(env)
    }

    fn postgres_schema() -> Option<Env> {
        let runtime = runtime();
        let schema = runtime.block_on(TestSchema::create())?;
        drop(runtime);
        let mut env = Env::sqlite();
        env.backend = Backend::Postgres;
        env.set("DATABASE_URL", &schema.url());
        env.set("JWT_SECRET", JWT_SECRET);
        env.set("CONEA_SECRET_KEY", SECRET_KEY);
        env._schema = Some(schema);
        Some(env)
    }

    pub fn set(&mut self, name: &str, value: &str) -> &mut Env {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// The secret tokens are signed with: the configured one, or the one generated into the
    /// data dir on the embedded default.
    pub fn jwt_secret(&self) -> String {
        match self.var("JWT_SECRET") {
            Some(s) => s.to_owned(),
            None => std::fs::read_to_string(self.data_dir().join("jwt_secret"))
                .expect("the generated JWT secret in the data dir")
                .trim()
                .to_owned(),
        }
    }

    #[allow(clippy::disallowed_methods)] // the child keeps the test's PATH
    fn apply(&self, cmd: &mut std::process::Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .envs(&self.vars)
            .current_dir(self.root.path());
    }

    pub fn command(&self, args: &[&str]) -> assert_cmd::Command {
        let mut std_cmd = std::process::Command::new(conea_bin());
        self.apply(&mut std_cmd);
        std_cmd.args(args);
        let mut cmd = assert_cmd::Command::from_std(std_cmd);
        cmd.timeout(COMMAND_DEADLINE);
        cmd
    }

    /// Starts `conea ARGS` as a child process (stdout/stderr to files in the test dir).
    pub fn spawn(&self, args: &[&str]) -> Child {
        static SPAWNS: AtomicUsize = AtomicUsize::new(0);
        let n = SPAWNS.fetch_add(1, Ordering::SeqCst);
        let out = std::fs::File::create(self.root.path().join(format!("spawn-{n}.out")))
            .expect("out file");
        let err = std::fs::File::create(self.root.path().join(format!("spawn-{n}.err")))
            .expect("err file");
        let mut cmd = std::process::Command::new(conea_bin());
        self.apply(&mut cmd);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.spawn().expect("conea starts")
    }

    /// Runs `conea ARGS` with empty standard input.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with_stdin(args, "")
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Out {
        let output = self
            .command(args)
            .write_stdin(stdin)
            .output()
            .expect("conea runs");
        Out {
            args: args.join(" "),
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `conea serve` on `127.0.0.1:0`, returned once it printed where it listens and answers
    /// `GET /livez`.
    pub fn serve(&self) -> Server {
        Server::start(self, &[], true)
    }

    /// `conea serve ARGS` on `127.0.0.1:0`, returned once it answers `GET /livez`.
    pub fn serve_with(&self, args: &[&str]) -> Server {
        Server::start(self, args, true)
    }

    /// `conea serve` on `127.0.0.1:0`, returned as soon as it prints `listening on …`.
    pub fn serve_until_announced(&self) -> Server {
        Server::start(self, &[], false)
    }

    /// Creates the organization `default` with the CLI (on a fresh database only `conea serve`
    /// creates it) and returns its id.
    pub fn create_default_org(&self) -> String {
        let out = self
            .run(&[
                "orgs",
                "create",
                "default",
                "--name",
                "Default organization",
            ])
            .success();
        out.stdout_line()
    }
}

/// What a finished command printed.
pub struct Out {
    pub args: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`conea {}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args,
            self.status.code(),
            self.stdout,
            self.stderr
        )
    }
}

impl Out {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts exit status 0.
    pub fn success(self) -> Out {
        assert_eq!(self.code(), Some(0), "expected success: {self}");
        self.assert_no_panic();
        self
    }

    /// Asserts exit status 1 with exactly one `error: …` line on stderr, and returns it.
    pub fn one_line_error(&self) -> &str {
        assert_eq!(self.code(), Some(1), "expected exit status 1: {self}");
        self.assert_no_panic();
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected a single line on stderr: {self}");
        assert!(
            lines[0].starts_with("error: "),
            "the line starts with `error: `: {self}"
        );
        lines[0]
    }

    pub fn assert_no_panic(&self) {
        for text in [&self.stdout, &self.stderr] {
            assert!(!text.contains("panicked"), "panic text: {self}");
            assert!(!text.contains("RUST_BACKTRACE"), "backtrace hint: {self}");
            assert!(
                !text.contains("internal failure"),
                "panic hook text: {self}"
            );
        }
    }

    /// The only line of stdout.
    pub fn stdout_line(&self) -> String {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stdout: {self}");
        lines[0].to_owned()
    }

    pub fn stdout_json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

/// A running `conea serve`. Dropping it kills the process; [`Server::stop`] sends SIGTERM and
/// waits for it to exit.
pub struct Server {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, from the `listening on http://…` line.
    pub addr: String,
    /// Everything printed on stdout up to and including the `listening on` line.
    pub startup_output: String,
    stderr_path: PathBuf,
}

impl Server {
    fn start(env: &Env, args: &[&str], wait_until_ready: bool) -> Server {
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, Ordering::SeqCst);
        let stderr_path = env.root.path().join(format!("serve-{n}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut cmd = std::process::Command::new(conea_bin());
        env.apply(&mut cmd);
        cmd.arg("serve")
            .args(args)
            .env("CONEA_BIND", "127.0.0.1:0")
            .env("CONEA_SHUTDOWN_GRACE", "10s")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().expect("conea serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            addr: String::new(),
            startup_output: String::new(),
            stderr_path,
        };
        let deadline = Instant::now() + SERVER_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    server.startup_output.push_str(&line);
                    server.startup_output.push('\n');
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        server.addr = rest
                            .split_whitespace()
                            .next()
                            .expect("an address after `listening on http://`")
                            .to_owned();
                        if wait_until_ready {
                            server.wait_until_ready(deadline);
                        }
                        return server;
                    }
                }
                Err(_) => {
                    let status = server.kill();
                    panic!(
                        "conea serve did not print `listening on http://…` (exit: {status:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                        server.startup_output,
                        server.stderr()
                    );
                }
            }
        }
    }

    /// Polls `GET /livez` until it answers 200 and, on Linux, until the process catches
    /// SIGTERM (or the deadline passes). The second condition is needed because the server
    /// answers requests slightly before it installs its SIGTERM handler (see the ignored test
    /// `sigterm_right_after_the_listening_line_stops_gracefully`).
    fn wait_until_ready(&mut self, deadline: Instant) {
        self.wait_until_answering(deadline);
        let pid = self.child.as_ref().expect("running").id();
        while !catches_sigterm(pid) {
            if Instant::now() > deadline {
                let status = self.kill();
                panic!(
                    "conea serve never installed a SIGTERM handler (exit: {status:?})\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_until_answering(&mut self, deadline: Instant) {
        let url = self.url("/livez");
        let ready = runtime().block_on(async {
            let client = reqwest::Client::new();
            loop {
                if let Ok(resp) = client.get(&url).send().await {
                    if resp.status().as_u16() == 200 {
                        return true;
                    }
                }
                if Instant::now() > deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        if !ready {
            let status = self.kill();
            panic!(
                "conea serve never answered GET /livez with 200 (exit: {status:?})\n--- stderr ---\n{}",
                self.stderr()
            );
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GET `path` with `Authorization: Bearer CREDENTIAL`; the status and the JSON body.
    pub fn get(&self, path: &str, credential: &str) -> (u16, Value) {
        let url = self.url(path);
        runtime().block_on(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("http client");
            let resp = client
                .get(&url)
                .bearer_auth(credential)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"));
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("response body");
            let body = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("GET {url}: body is not JSON ({e}): {text}"));
            (status, body)
        })
    }

    /// Sends SIGTERM and waits for the process to exit; returns its status and stderr.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let child = self.child.as_mut().expect("running");
        let pid = child.id().to_string();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(kill.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + SERVER_DEADLINE;
        loop {
            if let Some(status) = child.try_wait().expect("wait for conea serve") {
                self.child = None;
                return (status, self.stderr());
            }
            if Instant::now() > deadline {
                let status = self.kill();
                panic!(
                    "conea serve did not exit after SIGTERM (killed: {status:?})\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill9(mut self) -> Option<ExitStatus> {
        self.kill()
    }

    fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether process `pid` has a handler for SIGTERM (`SigCgt` in `/proc/PID/status`). Where
/// that file does not exist (not Linux), assumes it does.
fn catches_sigterm(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    const SIGTERM: u32 = 15;
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (SIGTERM - 1)) != 0)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Every `conea_…` API key secret in `text`, in order.
pub fn api_keys_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("conea_") && w.len() > "conea_".len() + 20)
        .map(str::to_owned)
        .collect()
}

/// The claims block `conea token inspect` prints (pretty JSON after `claims: `).
pub fn inspected_claims(stdout: &str) -> Value {
    let start = stdout.find("claims: ").expect("a `claims:` section") + "claims: ".len();
    let rest = &stdout[start..];
    let end = rest.find("\n}").expect("the end of the claims object") + 2;
    serde_json::from_str(&rest[..end]).expect("claims are JSON")
}

/// RFC 3339 UTC text of a Unix time, computed independently of the product code.
pub fn utc(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .expect("valid time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// The lines of `text` that contain `needle`.
pub fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}
