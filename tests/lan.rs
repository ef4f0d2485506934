//! LAN peers for real: `tandem serve --mdns` instances in network namespaces
//! that this test creates, joined by veth pairs (and a bridge for three).
//! mDNS runs only inside those namespaces, never in the machine's own; each
//! namespace is checked to hold only the interfaces made here before a daemon
//! starts. Without root (or `ip netns`), the tests print why and skip.
//!
//! Over 500 lines on purpose: one suite for one subject; each test stands alone and shares only `common`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");
static NEXT_NET: AtomicU32 = AtomicU32::new(0);

fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Network namespaces made by this test, deleted on drop.
struct Net {
    namespaces: Vec<String>,
    /// The address of each host namespace, in order.
    addresses: Vec<String>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
    }
}

fn netns_available() -> Result<(), String> {
    if unsafe_geteuid() != 0 {
        return Err("not root".into());
    }
    sh(&["ip", "-V"]).map_err(|e| format!("iproute2 missing: {e}"))?;
    Ok(())
}

fn unsafe_geteuid() -> u32 {
    // /proc/self/status "Uid:" line, effective uid second: no libc needed.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2).unwrap_or("1").to_owned())
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(1)
}

/// `n` hosts on one link: two joined directly by a veth pair, more through a
/// bridge in a namespace of its own.
fn hosts(n: usize) -> Result<Net, String> {
    netns_available()?;
    let serial = NEXT_NET.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    let tag = format!("tdm{pid}n{serial}");
    let subnet = format!("10.{}.{}", 200 + pid % 50, serial % 250);
    Ok(build_hosts(n, &tag, serial, &subnet))
}

/// Builds the namespaces; once namespaces are known to work, any failure here is a test failure.
fn build_hosts(n: usize, tag: &str, serial: u32, subnet: &str) -> Net {
    let run =
        |args: &[&str]| sh(args).unwrap_or_else(|e| panic!("setting up the test network: {e}"));
    let mut net = Net {
        namespaces: vec![],
        addresses: vec![],
    };
    let hosts: Vec<String> = (0..n).map(|i| format!("{tag}h{i}")).collect();
    for h in &hosts {
        run(&["ip", "netns", "add", h]);
        net.namespaces.push(h.clone());
        run(&["ip", "-n", h, "link", "set", "lo", "up"]);
    }
    // Interface names are unique per test (they may pass through the root namespace).
    let mut expected = vec![];
    if n == 2 {
        let (a, b) = (format!("t{serial}a"), format!("t{serial}b"));
        run(&[
            "ip", "link", "add", &a, "netns", &hosts[0], "type", "veth", "peer", "name", &b,
            "netns", &hosts[1],
        ]);
        expected = vec![a, b];
    } else {
        let bridge = format!("{tag}br");
        run(&["ip", "netns", "add", &bridge]);
        net.namespaces.push(bridge.clone());
        run(&["ip", "-n", &bridge, "link", "add", "br0", "type", "bridge"]);
        run(&["ip", "-n", &bridge, "link", "set", "br0", "up"]);
        for (i, h) in hosts.iter().enumerate() {
            let (inner, outer) = (format!("t{serial}h{i}"), format!("t{serial}p{i}"));
            run(&[
                "ip", "link", "add", &inner, "netns", h, "type", "veth", "peer", "name", &outer,
                "netns", &bridge,
            ]);
            run(&["ip", "-n", &bridge, "link", "set", &outer, "master", "br0"]);
            run(&["ip", "-n", &bridge, "link", "set", &outer, "up"]);
            expected.push(inner);
        }
    }
    for (i, h) in hosts.iter().enumerate() {
        let addr = format!("{subnet}.{}", i + 1);
        run(&[
            "ip",
            "-n",
            h,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            &expected[i],
        ]);
        run(&["ip", "-n", h, "link", "set", &expected[i], "up"]);
        // Nothing but what we made: lo and our veth end.
        let links = run(&["ip", "-n", h, "-o", "link"]);
        let names: Vec<&str> = links
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n))
            .collect();
        assert_eq!(
            names,
            vec!["lo", expected[i].as_str()],
            "namespace {h} has unexpected interfaces"
        );
        net.addresses.push(addr);
    }
    net
}

/// A `tandem serve --mdns` running inside a namespace.
struct Peer {
    ns: String,
    name: String,
    child: Option<Child>,
    fingerprint: String,
    id: String,
    /// The owner token from the peer's data directory: owner rights need it,
    /// even from the peer's own machine.
    token: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_peer(ns: &str, name: &str, data_dir: &Path) -> Peer {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            TANDEM,
            "serve",
            "--mdns",
            "--listen",
            "0.0.0.0:7450",
            "--name",
            name,
            "--data-dir",
        ])
        .arg(data_dir)
        // mDNS is allowed here, and only here: inside a namespace this test made.
        .env_remove("TANDEM_NO_MDNS")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut fingerprint, mut id) = (String::new(), String::new());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if let Some(f) = line
            .trim()
            .strip_prefix("TLS certificate SHA-256 fingerprint: ")
        {
            fingerprint = f.to_owned();
        }
        if let Some(rest) = line.trim().strip_prefix("LAN discovery: on, as ") {
            id = rest
                .rsplit("peer id ")
                .next()
                .unwrap()
                .trim_end_matches(')')
                .to_owned();
        }
        if line.starts_with("Data directory:") {
            break;
        }
        line.clear();
    }
    assert!(
        !id.is_empty() && !fingerprint.is_empty(),
        "{name} did not start with discovery"
    );
    let token = std::fs::read_to_string(data_dir.join("owner-token"))
        .expect("serve writes the owner token into its data directory")
        .trim()
        .to_owned();
    Peer {
        ns: ns.to_owned(),
        name: name.to_owned(),
        child: Some(child),
        fingerprint,
        id,
        token,
    }
}

impl Peer {
    /// Runs the `tandem` CLI inside this peer's namespace.
    fn tandem(&self, args: &[&str]) -> Result<String, String> {
        let token = format!("TANDEM_TOKEN={}", self.token);
        let mut all = vec!["ip", "netns", "exec", &self.ns, "env", &token, TANDEM];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// An HTTP request to this peer's own server, from inside its namespace (as the owner).
    fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let url = format!("http://127.0.0.1:7450{path}");
        let auth = format!("Authorization: Bearer {}", self.token);
        let mut args = vec![
            "ip",
            "netns",
            "exec",
            &self.ns,
            "curl",
            "-s",
            "-H",
            &auth,
            "-w",
            "\n%{http_code}",
            "-X",
            method,
            &url,
        ];
        if let Some(b) = body {
            args.extend_from_slice(&["-H", "content-type: application/json", "-d", b]);
        }
        let out = sh(&args).unwrap();
        let (json, code) = out.trim_end().rsplit_once('\n').unwrap_or(("", out.trim()));
        (
            code.parse().unwrap_or(0),
            serde_json::from_str(json).unwrap_or(Value::Null),
        )
    }

    fn peers(&self) -> Vec<Value> {
        self.api("GET", "/_peers", None)
            .1
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn peer(&self, id: &str) -> Option<Value> {
        self.peers().into_iter().find(|p| p["id"] == id)
    }

    /// Writes a document into this peer's store through its own server.
    fn write_doc(&self, dir: &Path, doc: &str, edits: &[&str]) {
        let file = dir.join(format!("{}-{doc}.automerge", self.name));
        let file = file.to_str().unwrap();
        let url = format!("http://127.0.0.1:7450/{doc}");
        self.tandem(&["sync", &url, "--file", file]).unwrap();
        let mut args = vec!["edit", file];
        args.extend_from_slice(edits);
        self.tandem(&args).unwrap();
        self.tandem(&["sync", &url, "--file", file]).unwrap();
    }

    fn read_doc(&self, doc: &str) -> Value {
        self.api("GET", &format!("/{doc}"), None).1
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            let _ = child.wait();
        }
    }
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
fn within<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> (T, Duration) {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return (v, start.elapsed());
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

macro_rules! net_or_skip {
    ($n:expr) => {
        match hosts($n) {
            Ok(net) => net,
            Err(why) => {
                eprintln!("skipping: network namespaces are not available here ({why})");
                return;
            }
        }
    };
}

#[test]
fn two_peers_discover_each_other_share_a_doc_live_and_never_see_a_private_one() {
    let net = net_or_skip!(2);
    let dir = tempfile::tempdir().unwrap();
    let mut alice = start_peer(&net.namespaces[0], "alice", &dir.path().join("alice"));
    let bob = start_peer(&net.namespaces[1], "bob", &dir.path().join("bob"));

    // Discovery, with the TXT record intact.
    let (seen, took) = within(Duration::from_secs(20), "bob to discover alice", || {
        bob.peer(&alice.id).filter(|p| p["online"] == true)
    });
    println!("discovery took {took:?}");
    assert_eq!(seen["name"], "alice");
    assert_eq!(seen["port"], 7450);
    assert_eq!(seen["fingerprint"], alice.fingerprint.as_str());
    assert_eq!(seen["version"], "1");
    assert_eq!(seen["verified"], false);
    let (back, _) = within(Duration::from_secs(20), "alice to discover bob", || {
        alice.peer(&bob.id)
    });
    assert_eq!(
        back["code"], seen["code"],
        "both sides show the same verification code"
    );
    assert_eq!(
        alice.peers().len(),
        1,
        "a peer does not list itself, and repeats are one entry"
    );

    // Alice has a private and a shared document.
    alice.write_doc(dir.path(), "plans", &["--set", "title=\"Plans\""]);
    alice.write_doc(dir.path(), "diary", &["--set", "title=\"Diary\""]);
    alice
        .tandem(&["share", "http://127.0.0.1:7450/plans", "lan"])
        .unwrap();
    let (status, docs) = bob.api("GET", &format!("/_peers/{}/docs", alice.id), None);
    assert_eq!(status, 200, "{docs}");
    let ids: Vec<&str> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["plans"], "the private diary is not listed");

    // Bob opens the shared one: a live local copy.
    let (status, remote) = bob.api(
        "POST",
        &format!("/_peers/{}/open", alice.id),
        Some(r#"{"doc_id":"plans"}"#),
    );
    assert_eq!(status, 201, "{remote}");
    within(Duration::from_secs(20), "bob's copy", || {
        (bob.read_doc("plans")["title"] == "Plans").then_some(())
    });
    alice.write_doc(dir.path(), "plans", &["--set", "from_alice=\"hi bob\""]);
    within(Duration::from_secs(20), "alice's edit on bob", || {
        (bob.read_doc("plans")["from_alice"] == "hi bob").then_some(())
    });
    bob.write_doc(dir.path(), "plans", &["--set", "from_bob=\"hi alice\""]);
    within(Duration::from_secs(20), "bob's edit on alice", || {
        (alice.read_doc("plans")["from_bob"] == "hi alice").then_some(())
    });

    // The private document: refused, and indistinguishable from a missing one.
    let url = format!("https://{}:7450/diary", net.addresses[0]);
    let direct = sh(&[
        "ip",
        "netns",
        "exec",
        &bob.ns,
        "curl",
        "-sk",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url,
    ])
    .unwrap();
    assert_eq!(direct, "404");
    let (status, _) = bob.api(
        "POST",
        &format!("/_peers/{}/open", alice.id),
        Some(r#"{"doc_id":"diary"}"#),
    );
    assert_eq!(status, 201, "the remote is made, but the peer refuses it");
    within(Duration::from_secs(20), "the refusal", || {
        let (_, remotes) = bob.api("GET", "/_remotes", None);
        remotes
            .as_array()?
            .iter()
            .find(|r| r["doc_id"] == "diary" && r["error"].as_str().unwrap_or("").contains("404"))
            .cloned()
    });
    assert_eq!(
        bob.read_doc("diary"),
        serde_json::json!({}),
        "nothing of the diary reached bob"
    );

    // Alice goes away: bob's copy stays editable; when she is back, it resyncs.
    alice.stop();
    within(Duration::from_secs(10), "alice to go offline", || {
        bob.peer(&alice.id).filter(|p| p["online"] == false)
    });
    bob.write_doc(
        dir.path(),
        "plans",
        &["--set", "while_away=\"still editable\""],
    );
    let mut alice = start_peer(&net.namespaces[0], "alice", &dir.path().join("alice"));
    within(
        Duration::from_secs(30),
        "bob's offline edit on alice",
        || (alice.read_doc("plans")["while_away"] == "still editable").then_some(()),
    );
    alice.stop();
}

#[test]
fn departures_are_noticed_graceful_in_about_a_second_and_kill_9_in_seconds() {
    let net = net_or_skip!(2);
    let dir = tempfile::tempdir().unwrap();
    let mut alice = start_peer(&net.namespaces[0], "alice", &dir.path().join("alice"));
    let bob = start_peer(&net.namespaces[1], "bob", &dir.path().join("bob"));
    let online = |bob: &Peer, id: &str| bob.peer(id).map(|p| p["online"] == true);
    within(Duration::from_secs(20), "discovery", || {
        online(&bob, &alice.id).filter(|o| *o)
    });

    alice.stop(); // SIGTERM: goodbye packets
    let (_, graceful) = within(Duration::from_secs(10), "a graceful exit", || {
        online(&bob, &alice.id).filter(|o| !o)
    });
    println!("graceful exit noticed after {graceful:?}");

    let mut alice = start_peer(&net.namespaces[0], "alice", &dir.path().join("alice"));
    within(Duration::from_secs(20), "alice back", || {
        online(&bob, &alice.id).filter(|o| *o)
    });
    alice.kill9(); // no goodbye: noticed by re-querying
    let (_, crashed) = within(Duration::from_secs(20), "a crash", || {
        online(&bob, &alice.id).filter(|o| !o)
    });
    println!("kill -9 noticed after {crashed:?}");
}

#[test]
fn a_peer_whose_certificate_changed_is_refused_and_the_user_is_told() {
    let net = net_or_skip!(2);
    let dir = tempfile::tempdir().unwrap();
    let mut alice = start_peer(&net.namespaces[0], "alice", &dir.path().join("alice"));
    let bob = start_peer(&net.namespaces[1], "bob", &dir.path().join("bob"));
    alice.write_doc(dir.path(), "plans", &["--set", "title=\"Plans\""]);
    alice
        .tandem(&[
            "share",
            "--data-dir",
            dir.path().join("alice").to_str().unwrap(),
            "plans",
            "lan",
        ])
        .unwrap();
    within(Duration::from_secs(20), "discovery", || {
        bob.peer(&alice.id).filter(|p| p["online"] == true)
    });
    let (status, _) = bob.api(
        "POST",
        &format!("/_peers/{}/open", alice.id),
        Some(r#"{"doc_id":"plans"}"#),
    );
    assert_eq!(status, 201);
    within(Duration::from_secs(20), "bob's copy", || {
        (bob.read_doc("plans")["title"] == "Plans").then_some(())
    });
    let (status, verified) = bob.api("POST", &format!("/_peers/{}/verify", alice.id), None);
    assert_eq!((status, &verified["verified"]), (200, &Value::Bool(true)));

    // Alice comes back with another certificate (same peer id).
    let old = alice.fingerprint.clone();
    alice.stop();
    std::fs::remove_dir_all(dir.path().join("alice/tls")).unwrap();
    let alice = start_peer(&net.namespaces[0], "alice", &dir.path().join("alice"));
    assert_ne!(alice.fingerprint, old);
    let (peer, _) = within(Duration::from_secs(20), "the change to be flagged", || {
        bob.peer(&alice.id)
            .filter(|p| p["online"] == true && p["certificate_changed"] == true)
    });
    assert_eq!(peer["fingerprint"], old.as_str(), "the old pin is kept");
    assert_eq!(peer["announced_fingerprint"], alice.fingerprint.as_str());
    let listed = bob.tandem(&["peers"]).unwrap();
    assert!(listed.contains("CHANGED"), "{listed}");
    // Refused: opening, listing, and the running sync.
    let (status, error) = bob.api(
        "POST",
        &format!("/_peers/{}/open", alice.id),
        Some(r#"{"doc_id":"other"}"#),
    );
    assert_eq!(status, 409);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("different certificate"),
        "{error}"
    );
    let (status, _) = bob.api("GET", &format!("/_peers/{}/docs", alice.id), None);
    assert_eq!(status, 409);
    within(
        Duration::from_secs(30),
        "the sync to refuse the new certificate",
        || {
            let (_, remotes) = bob.api("GET", "/_remotes", None);
            remotes
                .as_array()?
                .iter()
                .find(|r| {
                    r["error"]
                        .as_str()
                        .unwrap_or("")
                        .contains("fingerprint mismatch")
                })
                .cloned()
        },
    );
    // After the users compare the new code, bob forgets the old pin.
    let (status, _) = bob.api("DELETE", &format!("/_peers/{}", alice.id), None);
    assert_eq!(status, 204);
    let (peer, _) = within(Duration::from_secs(20), "the new pin", || {
        bob.peer(&alice.id)
            .filter(|p| p["certificate_changed"] == false)
    });
    assert_eq!(peer["fingerprint"], alice.fingerprint.as_str());
    assert_eq!(peer["verified"], false);
    // The document opened before the change reconnects with the new pin.
    within(
        Duration::from_secs(30),
        "the open document to sync again",
        || {
            let (_, remotes) = bob.api("GET", "/_remotes", None);
            let plans = remotes
                .as_array()?
                .iter()
                .find(|r| r["doc_id"] == "plans")?
                .clone();
            (plans["state"] == "live" && plans["fingerprint"] == alice.fingerprint.as_str())
                .then_some(plans)
        },
    );
    alice.write_doc(
        dir.path(),
        "plans",
        &["--set", "after=\"the new certificate\""],
    );
    within(Duration::from_secs(20), "an edit after the re-pin", || {
        (bob.read_doc("plans")["after"] == "the new certificate").then_some(())
    });
}

#[test]
fn three_peers_on_a_bridge_all_find_each_other() {
    let net = net_or_skip!(3);
    let dir = tempfile::tempdir().unwrap();
    let names = ["ann", "ben", "cat"];
    let peers: Vec<Peer> = (0..3)
        .map(|i| start_peer(&net.namespaces[i], names[i], &dir.path().join(names[i])))
        .collect();
    for p in &peers {
        let (found, took) = within(Duration::from_secs(30), "everyone", || {
            let list = p.peers();
            (list.iter().filter(|x| x["online"] == true).count() == 2).then_some(list)
        });
        let mut seen: Vec<String> = found
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        let mut others: Vec<String> = names
            .iter()
            .filter(|n| **n != p.name)
            .map(|n| n.to_string())
            .collect();
        others.sort();
        assert_eq!(seen, others, "{} sees the other two", p.name);
        println!("{} found both others within {took:?}", p.name);
    }
}
