//! History queries on the editing trace (259,779 changes): what opening the
//! timeline, scrubbing to a version and diffing cost on the server side
//! (`cargo bench --bench history`). The browser-side figures (Automerge JS
//! `view`/`diff` on the same document) come from `ui/tests/bench-history.mjs`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use automerge::{Automerge, ChangeHash};
use tandem::history::{self, timeline::heads_of, BurstRules};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/editing-trace.automerge");
    let Ok(saved) = std::fs::read(&path) else {
        eprintln!("NOTE: {} is absent; nothing to measure", path.display());
        return;
    };
    let t = Instant::now();
    let doc = Automerge::load(&saved).expect("load the editing trace");
    println!("load the trace: {:.0} ms", ms(t.elapsed()));

    let mut bursts = Vec::new();
    let mut changes = Vec::new();
    let d = median(5, || {
        changes = history::changes(&doc);
        bursts = history::bursts(&changes, BurstRules::default());
    });
    println!(
        "changes + bursts ({} bursts, as `tandem log`): {:.0} ms",
        bursts.len(),
        ms(d)
    );
    let d = median(5, || {
        history::timeline::timeline(&doc, BurstRules::default());
    });
    println!("timeline from change metadata (the UI's): {:.0} ms", ms(d));
    let d = median(3, || history::touched_paths(&doc, &mut bursts));
    println!("paths of every burst (sampled): {:.0} ms", ms(d));
    let d = median(3, || {
        serde_json::to_vec(&bursts).expect("json");
    });
    println!("timeline as JSON: {:.1} ms", ms(d));

    let points: Vec<Vec<ChangeHash>> = [0.1, 0.5, 0.9]
        .iter()
        .map(|f| heads_of(&bursts[(bursts.len() as f64 * f) as usize].heads_after))
        .collect();
    for (f, heads) in [0.1, 0.5, 0.9].iter().zip(&points) {
        let d = median(5, || {
            history::json_at(&doc, heads, &[]).expect("view");
        });
        println!("view at {:.0} % of the history: {:.1} ms", f * 100.0, ms(d));
    }
    let mid = &bursts[bursts.len() / 2];
    let (before, after) = (heads_of(&mid.heads_before), heads_of(&mid.heads_after));
    let d = median(5, || {
        history::diff(&doc, &before, &after).expect("diff");
    });
    println!(
        "diff of one burst ({} changes): {:.1} ms",
        mid.changes,
        ms(d)
    );
    let d = median(5, || {
        history::diff(&doc, &points[0], &points[2]).expect("diff");
    });
    println!("diff 10 % → 90 % of the history: {:.1} ms", ms(d));
    let d = median(5, || {
        history::conflicts(&doc).expect("conflicts");
    });
    println!("open conflicts: {:.2} ms", ms(d));
}
