//! End-to-end sync benchmarks through real Tandem servers on 127.0.0.1.
//!
//! Run with `cargo bench --bench sync` (optionally followed by `-- NAME…` to
//! run only the scenarios whose names start with one of the NAMEs, e.g.
//! `-- a b-10k`). Every scenario runs in its own child process (this binary
//! re-executed with `TANDEM_BENCH_CHILD=<scenario>`), so the peak RSS printed
//! next to it (VmHWM, read at the end of the child) belongs to that scenario
//! alone. Server and clients share that process; see `docs/benchmarks.md`.
//!
//! Scenarios:
//! - `a-*`: edit→peer latency between two live clients through one server.
//! - `b-*`: cold one-shot sync of a big document vs. in-process `automerge::sync`.
//! - `c-*`: many clients editing one document concurrently until convergence.
//! - `d-*`: one change fanned out to 1,000 live clients; memory per idle connection.
//! - `h-*`: edit→peer latency and CPU per edit on long histories (50k changes, the editing trace).
//! - `n-neighbours`: a small document's edit→peer latency while a long one on the same server is typed into.
//! - `reconnect`: an in-sync live client reconnecting on the editing trace.
//! - `typing`: 20 live clients typing into a 50k-change text; server CPU, latency, backlog.
//! - `diag-*` (only when named): Automerge-only timings that explain the misses.

mod cold;
mod common;
mod crowd;
mod diag;
mod fanout;
mod history;
mod latency;
mod neighbours;
mod reconnect;
mod typing;

pub(crate) use cold::*;
pub(crate) use common::*;
pub(crate) use crowd::*;
pub(crate) use diag::*;
pub(crate) use fanout::*;
pub(crate) use history::*;
pub(crate) use latency::*;
pub(crate) use neighbours::*;
pub(crate) use reconnect::*;
pub(crate) use typing::*;

/// Every scenario, in the order they run.
const SCENARIOS: &[&str] = &[
    "a-h1",
    "a-h2c",
    "a-sqlite",
    "b-10k",
    "b-trace",
    "b-push-10k",
    "b-push-trace",
    "c-10x10",
    "c-10x100",
    "c-100x10",
    "c-100x100",
    "d-fanout",
    "d-mem-split",
    "h-50k",
    "h-trace",
    "n-neighbours",
    "reconnect",
    "typing",
];

/// Opt-in diagnostics (`diag.rs`, `history.rs`).
const DIAGNOSTICS: &[&str] = &["diag-cold", "diag-receive", "diag-history", "diag-crowd"];

fn main() {
    if let Ok(scenario) = std::env::var(CHILD_ENV) {
        child_main(&scenario);
        return;
    }
    // `cargo bench` passes `--bench`; anything else not starting with `-` filters.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // Diagnostics run only when asked for by name.
    let selected: Vec<&str> = SCENARIOS
        .iter()
        .copied()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.starts_with(f.as_str())))
        .chain(
            DIAGNOSTICS
                .iter()
                .copied()
                .filter(|s| filters.iter().any(|f| s.starts_with(f.as_str()))),
        )
        .collect();
    let exe = std::env::current_exe().expect("own executable");
    let started = Instant::now();
    let mut table: Vec<(String, Row, String)> = Vec::new();
    for scenario in selected {
        eprintln!("== {scenario}");
        let t = Instant::now();
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, scenario)
            .env("TANDEM_NO_MDNS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn scenario process");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut rows = Vec::new();
        let mut peak = String::from("?");
        for line in out.lines() {
            let line = line.expect("read child output");
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                ["@row", figure, result, target, verdict] => rows.push(Row {
                    figure: figure.to_string(),
                    result: result.to_string(),
                    target: target.to_string(),
                    verdict: verdict.to_string(),
                }),
                ["@peak", kib] => peak = mib(kib.parse().unwrap_or(0)),
                _ => eprintln!("   {line}"),
            }
        }
        let status = child.wait().expect("wait for scenario");
        if !status.success() {
            rows.push(Row::new(
                "scenario process failed",
                format!("{status}"),
                "",
                Some(false),
            ));
        }
        eprintln!("   ({scenario} took {:.1} s)", t.elapsed().as_secs_f64());
        for row in rows {
            table.push((scenario.to_string(), row, peak.clone()));
        }
    }
    println!();
    println!("| scenario | figure | result | target | verdict | peak RSS (scenario process) |");
    println!("|---|---|---|---|---|---|");
    for (scenario, row, peak) in &table {
        println!(
            "| {scenario} | {} | {} | {} | {} | {peak} |",
            row.figure, row.result, row.target, row.verdict
        );
    }
    println!();
    println!(
        "{} CPU(s) available; whole run took {:.1} s",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
}

fn child_main(scenario: &str) {
    raise_fd_limit(8192);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if scenario == "server-helper" {
        rt.block_on(server_helper());
        return;
    }
    if scenario == "typing-server" {
        rt.block_on(typing_server());
        return;
    }
    let rows = rt.block_on(async {
        match scenario {
            "a-h1" => scenario_a("HTTP/1.1, MemoryStore", HttpVersion::Http1, false).await,
            "a-h2c" => scenario_a("h2c, MemoryStore", HttpVersion::Http2, false).await,
            "a-sqlite" => scenario_a("HTTP/1.1, SqliteStore", HttpVersion::Http1, true).await,
            "b-10k" => scenario_b_10k().await,
            "b-trace" => scenario_b_trace().await,
            "b-push-10k" => scenario_b_push_10k().await,
            "b-push-trace" => scenario_b_push_trace().await,
            "c-10x10" => scenario_c(10, 10, Some(15.0)).await,
            "c-10x100" => scenario_c(10, 100, Some(200.0)).await,
            "c-100x10" => scenario_c(100, 10, Some(300.0)).await,
            "c-100x100" => scenario_c(100, 100, None).await,
            "d-fanout" => scenario_d_fanout().await,
            "d-mem-split" => scenario_d_mem_split().await,
            "h-50k" => scenario_h(0).await,
            "h-trace" => scenario_h(1).await,
            "n-neighbours" => scenario_neighbours().await,
            "reconnect" => scenario_reconnect().await,
            "typing" => scenario_typing().await,
            "diag-cold" => diag_cold(),
            "diag-receive" => diag_receive(),
            "diag-history" => diag_history(),
            "diag-crowd" => diag_crowd(),
            other => panic!("unknown scenario {other}"),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    for row in rows {
        row.emit();
    }
    println!("@peak\t{}", proc_status_kib("VmHWM:"));
}
