//! PostgreSQL and Redis processes of one test's own, on their own ports in a temporary
//! directory, for the fault suite: stopped, killed, frozen (`SIGSTOP`) and thawed while
//! Conea runs against them, without touching the services other tests share.
//!
//! The binaries come from the machine (`/usr/lib/postgresql/*/bin/{initdb,pg_ctl}`,
//! `redis-server` on `PATH`). Without them a test prints one line and skips; with
//! `CONEA_REQUIRE_SERVICES=1` (CI) it fails instead. PostgreSQL refuses to run as root, so
//! under root its processes run as the `postgres` user (`runuser`).

// Test processes: their PATH, the clock for start-up waits, and signals by process id.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn required() -> bool {
    std::env::var("CONEA_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn skip(what: &str, why: &str) {
    if required() {
        panic!("{why}, but CONEA_REQUIRE_SERVICES=1 requires the {what} fault tests to run");
    }
    eprintln!("skipping {what} fault test: {why}");
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// The ids of `pid`'s child processes (from `/proc`).
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    // pid (comm) state ppid …: comm may hold spaces, so split after `)`.
                    let rest = s.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL cluster of the test's own.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Creates and starts a cluster, or `None` after printing why (no binaries).
    pub fn start() -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
            let mut versions: Vec<PathBuf> = d.filter_map(|e| Some(e.ok()?.path())).collect();
            versions.sort();
            versions
                .into_iter()
                .rev()
                .map(|v| v.join("bin"))
                .find(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        });
        let Some(bin) = bin else {
            skip("PostgreSQL", "no /usr/lib/postgresql/*/bin/initdb");
            return None;
        };
        let as_postgres = is_root();
        let dir = tempfile::tempdir().expect("temp dir");
        if as_postgres {
            let _ = Command::new("chown")
                .args(["-R", "postgres", &dir.path().display().to_string()])
                .status();
        }
        let pg = PrivatePostgres {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        let data = pg.data().display().to_string();
        let ok = pg
            .command(
                "initdb",
                &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip("PostgreSQL", "initdb failed");
            return None;
        }
        pg.start_again();
        Some(pg)
    }

    /// A streaming standby of `primary` (`pg_basebackup -R -X stream`), started on its own
    /// port, or `None` after printing why.
    pub fn standby_of(primary: &PrivatePostgres) -> Option<PrivatePostgres> {
        let dir = tempfile::tempdir().expect("temp dir");
        if primary.as_postgres {
            let _ = Command::new("chown")
                .args(["-R", "postgres", &dir.path().display().to_string()])
                .status();
        }
        let standby = PrivatePostgres {
            bin: primary.bin.clone(),
            dir,
            port: free_port(),
            as_postgres: primary.as_postgres,
        };
        let data = standby.data().display().to_string();
        let port = primary.port.to_string();
        let ok = standby
            .command(
                "pg_basebackup",
                &[
                    "-D",
                    &data,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-R",
                    "-X",
                    "stream",
                    "--no-sync",
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip("PostgreSQL standby", "pg_basebackup failed");
            return None;
        }
        standby.start_again();
        Some(standby)
    }

    /// Stops it cleanly (`pg_ctl stop -m fast`).
    pub fn stop_fast(&self) {
        assert!(self.pg_ctl(&["-m", "fast", "stop"]), "pg_ctl stop failed");
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program).args(args);
            c
        } else {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        let data = self.data().display().to_string();
        let log = self.dir.path().join("postgres.log").display().to_string();
        let mut all = vec!["-D", &data, "-l", &log, "-w", "-t", "60"];
        all.extend_from_slice(args);
        self.command("pg_ctl", &all)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the cluster (again) on its port.
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        assert!(self.pg_ctl(&["-o", &opts, "start"]), "pg_ctl start failed");
    }

    /// Stops it as a crash would (`pg_ctl stop -m immediate`): connections drop at once.
    pub fn stop(&self) {
        assert!(
            self.pg_ctl(&["-m", "immediate", "stop"]),
            "pg_ctl stop failed"
        );
    }

    fn postmaster(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Freezes the postmaster and every backend (`SIGSTOP`): connections stay open and
    /// nothing answers.
    pub fn freeze(&self) {
        if let Some(pm) = self.postmaster() {
            signal(pm, "-STOP");
            for c in children(pm) {
                signal(c, "-STOP");
            }
        }
    }

    pub fn thaw(&self) {
        if let Some(pm) = self.postmaster() {
            for c in children(pm) {
                signal(c, "-CONT");
            }
            signal(pm, "-CONT");
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.thaw();
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}

/// A `redis-server` of the test's own.
pub struct PrivateRedis {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one, or `None` after printing why (no `redis-server`).
    pub fn start() -> Option<PrivateRedis> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            skip("Redis", "no redis-server on PATH");
            return None;
        }
        let mut r = PrivateRedis {
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            child: None,
        };
        r.start_again();
        Some(r)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port and waits until it accepts connections.
    pub fn start_again(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    /// `SIGKILL`: connections are refused until [`start_again`](Self::start_again).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "-CONT");
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `SIGSTOP`: connections stay open and nothing answers.
    pub fn freeze(&self) {
        if let Some(c) = &self.child {
            signal(c.id(), "-STOP");
        }
    }

    pub fn thaw(&self) {
        if let Some(c) = &self.child {
            signal(c.id(), "-CONT");
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
