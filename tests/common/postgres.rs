//! A throwaway PostgreSQL server for tests: `initdb` + `pg_ctl` from
//! Debian's `postgresql` package in a temp dir, listening on 127.0.0.1 at a
//! free port, its socket in the temp dir. As root (CI), the server runs as
//! `nobody` (initdb refuses root). Stopped (`-m immediate`) and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest installed PostgreSQL's `bin` directory, by glob over
/// `/usr/lib/postgresql/*/bin` (not `$PATH`: a stand-in may shadow it).
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// A running test server.
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    options: String,
}

impl TempPostgres {
    /// Starts one, or `None` (with the reason printed) when PostgreSQL is not
    /// installed. Any other failure panics: the test must not pass silently.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        let Some(bin) = bin_dir() else {
            eprintln!(
                "SKIPPED {test}: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; \
                 apt-get install postgresql, as scripts/test.sh does)"
            );
            return None;
        };
        Some(Self::start(bin, true))
    }

    /// Starts one; `fast` turns fsync off (tests: commits still reach the
    /// OS before they return, so they survive a crash of the server process,
    /// not of the machine). Benchmarks keep fsync on.
    pub fn start(bin: PathBuf, fast: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tandem-pg-")
            .tempdir()
            .unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["nobody:nogroup"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the temp dir to nobody failed");
        }
        let port = free_port();
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=200",
            dir.path().display()
        );
        if fast {
            options.push_str(" -c fsync=off -c full_page_writes=off");
        }
        let this = Self {
            dir,
            bin,
            port,
            options,
        };
        let data = this.data();
        this.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "tandem",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        this.resume();
        this
    }

    /// Starts the server (again, after [`TempPostgres::stop`]) on the same port.
    pub fn resume(&self) {
        let data = self.data();
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &self.options,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    /// The installed PostgreSQL's binaries, if any (for benchmarks).
    pub fn installed() -> Option<PathBuf> {
        bin_dir()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{}\nlog: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://tandem@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let admin = self.url("postgres");
        let sql = format!("CREATE DATABASE {name}");
        // On a thread of its own: the postgres client must not run on a
        // Tokio worker (tests call this from async tests).
        std::thread::spawn(move || {
            let mut client = ::postgres::Client::connect(&admin, ::postgres::NoTls).unwrap();
            client.batch_execute(&sql).unwrap();
        })
        .join()
        .unwrap();
        self.url(name)
    }

    /// Runs `sql` on database `db` (on its own thread, like `create_database`).
    pub fn execute(&self, db: &str, sql: &str) {
        let (url, sql) = (self.url(db), sql.to_owned());
        std::thread::spawn(move || {
            let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
            client.batch_execute(&sql).unwrap();
        })
        .join()
        .unwrap();
    }

    /// Stops the server at once (like a crash of the database machine).
    pub fn stop(&self) {
        if self.data().join("postmaster.pid").exists() {
            let data = self.data();
            self.run(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
        }
    }

    /// The temp dir (its log is `server.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.data();
        if data.join("postmaster.pid").exists() {
            let exe = self.bin.join("pg_ctl");
            let mut command = if is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "nobody", "--"]).arg(&exe);
                c
            } else {
                Command::new(&exe)
            };
            let _ = command
                .args([
                    "-D",
                    data.to_str().unwrap_or(""),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ])
                .output();
        }
    }
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
