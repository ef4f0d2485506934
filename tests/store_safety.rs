//! The data directory under attack and accident (issue #7 rows 5, 9, 10, 14):
//! a second server on the same directory, files other users could read, a
//! damaged change row, and `tandem doctor` reporting what it finds.

mod common;
use common::run_tandem as tandem;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use common::{id, WAIT};
use tandem::hub::{Document, Hub};
use tandem::store::{Durability, SqliteStore, Store};

const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

/// A `tandem serve` child process, killed on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_cmd(data_dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(TANDEM);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("TANDEM_NO_MDNS", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Starts `tandem serve` and waits until it is listening.
fn serve(data_dir: &Path, extra: &[&str]) -> Served {
    serve_logging_to(data_dir, extra, Stdio::null())
}

/// Starts `tandem serve` with its log going to `log`.
fn serve_logging_to(data_dir: &Path, extra: &[&str], log: Stdio) -> Served {
    let mut child = serve_cmd(data_dir, extra)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if line.starts_with("Data directory:") {
            return Served(child);
        }
        line.clear();
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve did not start");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_second_serve_on_the_same_data_dir_exits_with_one_line_and_the_first_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path(), &[]);
    let second = serve_cmd(dir.path(), &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = second.wait_with_output().unwrap();
    assert!(started.elapsed() < WAIT);
    assert!(!out.status.success(), "the second serve must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "tandem: error: another Tandem is already using {} (pid {}); stop it or pass another --data-dir",
            dir.path().display(),
            first.0.id()
        ),
        "exactly one line"
    );
    let mut first = first;
    assert!(
        first.0.try_wait().unwrap().is_none(),
        "the first still runs"
    );
    // The doctor sees who holds it, and finds nothing wrong.
    let (ok, stdout, stderr) = tandem(&["doctor", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("held by a running Tandem (pid {})", first.0.id())),
        "{stdout}"
    );
    drop(first);
    // Once the first is gone (even killed), the directory is free again.
    let _again = serve(dir.path(), &[]);
}

#[test]
fn serve_keeps_the_data_dir_and_its_files_owner_only() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A new data dir, and an old one other users could read.
    let fresh = root.path().join("fresh");
    let old = root.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    for dir in [&fresh, &old] {
        let served = serve(dir, &["--tls"]);
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
        for name in [
            "tandem.sqlite3",
            "tandem.lock",
            "tls/key.pem",
            "tls/cert.pem",
        ] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        for name in ["tandem.sqlite3-wal", "tandem.sqlite3-shm"] {
            if dir.join(name).exists() {
                assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
            }
        }
        drop(served);
    }
    // The doctor flags a file someone loosened.
    let key = old.join("tls/key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, stdout, stderr) = tandem(&["doctor", "--data-dir", old.to_str().unwrap()]);
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains(&format!("{} is 644", key.display())) && stdout.contains("chmod 600"),
        "{stdout}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("1 problem in"), "{stderr}");
}

/// Opens the directory's store, waiting (bounded) for a lock that was just
/// released: another test of this binary forking a `tandem` child at that
/// moment holds a copy of the lock's descriptor until the child execs.
fn open_hub(dir: &Path) -> Arc<Hub> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match SqliteStore::open_dir(dir, Durability::Process) {
            Ok(store) => return Hub::new(Arc::new(store) as Arc<dyn Store>),
            Err(tandem::store::StoreError::Locked { .. })
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("the store does not open: {e}"),
        }
    }
}

fn keys(doc: &Document) -> Vec<String> {
    doc.read(|d| d.keys(automerge::ROOT).collect())
}

fn doctor_json(dir: &Path) -> (bool, serde_json::Value) {
    let (ok, stdout, stderr) = tandem(&["doctor", "--json", "--data-dir", dir.to_str().unwrap()]);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    (ok, report)
}

/// Two local edits, then three changes made concurrently elsewhere (as a
/// sync would bring them), each stored as its own row; the middle one of
/// those is then damaged on disk.
#[test]
fn a_damaged_change_row_is_quarantined_the_rest_loads_and_new_writes_stick() {
    let dir = tempfile::tempdir().unwrap();
    let notes = id("notes");
    {
        let hub = open_hub(dir.path());
        let doc = hub.open(&notes).unwrap();
        for key in ["a", "b"] {
            doc.change(|tx| tx.put(automerge::ROOT, key, "local"))
                .unwrap();
        }
        let base = doc.heads();
        let fork = doc.read(|d| d.fork());
        for key in ["p1", "p2", "p3"] {
            let mut peer = fork.clone().with_actor(automerge::ActorId::random());
            peer.transact(|tx| tx.put(automerge::ROOT, key, "peer"))
                .unwrap();
            doc.load_bytes(&peer.save_after(&base)).unwrap();
        }
        assert_eq!(keys(&doc), ["a", "b", "p1", "p2", "p3"]);
    }
    // Damage the row holding p2 (the second of the last three).
    let db = rusqlite::Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
    let seqs: Vec<i64> = db
        .prepare("SELECT seq FROM chunks WHERE doc_id = 'notes' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(seqs.len() >= 4, "one row per write: {seqs:?}");
    let bad = seqs[seqs.len() - 2];
    let mut data: Vec<u8> = db
        .query_row("SELECT data FROM chunks WHERE seq = ?1", [bad], |r| {
            r.get(0)
        })
        .unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0xff;
    db.execute(
        "UPDATE chunks SET data = ?1 WHERE seq = ?2",
        rusqlite::params![data, bad],
    )
    .unwrap();
    drop(db);

    // Before any server opens it, the doctor sees the damage.
    let (ok, report) = doctor_json(dir.path());
    assert!(!ok);
    assert_eq!(report["documents"][0]["id"], "notes");
    assert_eq!(report["documents"][0]["damaged"][0]["seq"], bad);

    {
        let hub = open_hub(dir.path());
        let doc = hub.open(&notes).unwrap();
        assert_eq!(
            keys(&doc),
            ["a", "b", "p1", "p3"],
            "good rows before and after load"
        );
        let quarantined = hub.store().quarantined().unwrap();
        assert_eq!(quarantined.len(), 1);
        assert_eq!(quarantined[0].seq, bad);
        doc.change(|tx| tx.put(automerge::ROOT, "after", "repair"))
            .unwrap();
    }
    let hub = open_hub(dir.path());
    let doc = hub.open(&notes).unwrap();
    assert_eq!(
        keys(&doc),
        ["a", "after", "b", "p1", "p3"],
        "the write acknowledged after the repair survives a reload"
    );
    drop(doc);
    drop(hub);

    let (ok, report) = doctor_json(dir.path());
    assert!(!ok, "quarantined rows are a problem to report");
    let doc = &report["documents"][0];
    assert_eq!(doc["loads"], true);
    assert_eq!(doc["damaged"], serde_json::json!([]));
    assert_eq!(doc["quarantined"][0]["seq"], bad);
    assert_eq!(doc["quarantined"][0]["size"], data.len());
    assert_eq!(report["problems"], 1);
    let (_, text, _) = tandem(&["doctor", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(text.contains(&format!("notes: change row {bad}")), "{text}");
    assert!(text.contains("quarantine"), "{text}");

    // A server started on it says so loudly, every time.
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("serve.log");
    let served = serve_logging_to(
        dir.path(),
        &[],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    drop(served);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("ERROR") && log.contains("quarantined; run `tandem doctor`"),
        "{log}"
    );
}
