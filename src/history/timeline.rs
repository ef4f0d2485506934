//! The timeline: every change of a document, oldest first, and the edit
//! bursts they make (consecutive changes by one actor, close in time).

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use serde::Serialize;

use super::{author_of, path_to_string};

/// One change, as `tandem log --json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct ChangeInfo {
    /// The change hash (hex).
    pub hash: String,
    /// The actor that made it (hex).
    pub actor: String,
    /// Its author, as shown to people (see [`author_of`]).
    pub author: String,
    /// Its number among the actor's changes, from 1.
    pub seq: u64,
    /// When it was made, in seconds since the epoch (0: unknown).
    pub time: i64,
    /// The changes it depends on (hex).
    pub deps: Vec<String>,
    /// How many operations it holds.
    pub ops: u64,
    /// Its commit message, if any.
    pub message: Option<String>,
}

/// Every change of `doc`, oldest first (a topological order: each change
/// comes after its deps).
pub fn changes(doc: &Automerge) -> Vec<ChangeInfo> {
    let mut authors = HashMap::new();
    doc.get_changes_meta(&[])
        .into_iter()
        .map(|m| {
            let actor = m.actor.to_hex_string();
            let author = authors
                .entry(actor.clone())
                .or_insert_with(|| author_of(&m.actor))
                .clone();
            ChangeInfo {
                hash: m.hash.to_string(),
                actor,
                author,
                seq: m.seq,
                time: m.timestamp,
                deps: m.deps.iter().map(|d| d.to_string()).collect(),
                ops: (m.max_op + 1).saturating_sub(m.start_op),
                message: m.message.map(|s| s.into_owned()),
            }
        })
        .collect()
}

/// When a new burst starts.
#[derive(Debug, Clone, Copy)]
pub struct BurstRules {
    /// A pause longer than this (seconds) between two changes.
    pub max_gap: i64,
    /// A burst longer than this (seconds) from its first change.
    pub max_span: i64,
    /// A burst with this many changes.
    pub max_changes: usize,
}

impl Default for BurstRules {
    fn default() -> Self {
        Self {
            max_gap: 60,
            max_span: 300,
            max_changes: 1_000,
        }
    }
}

/// A run of changes by one actor, close in time.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct Burst {
    /// Index of its first change in [`changes`]' list.
    pub first: usize,
    /// How many changes it holds.
    pub changes: usize,
    /// The actor (hex).
    pub actor: String,
    /// Its author, as shown to people.
    pub author: String,
    /// Time of the first change (seconds since the epoch).
    pub start: i64,
    /// Time of the last change.
    pub end: i64,
    /// Operations in all its changes.
    pub ops: u64,
    /// The document's heads before it (in timeline order).
    pub heads_before: Vec<String>,
    /// The document's heads right after it: "the version at this burst".
    pub heads_after: Vec<String>,
    /// The paths it touched (filled by [`touched_paths`]).
    pub paths: Vec<String>,
    /// The paths come from a sample of its changes (a long burst).
    pub paths_sampled: bool,
}

/// One change as the grouping sees it.
struct Step<'a> {
    actor: &'a ActorId,
    time: i64,
    hash: ChangeHash,
    deps: &'a [ChangeHash],
    ops: u64,
}

fn hex_heads(heads: &BTreeSet<ChangeHash>) -> Vec<String> {
    heads.iter().map(|h| h.to_string()).collect()
}

/// The grouping itself, over changes in timeline order.
fn group<'a>(steps: impl Iterator<Item = Step<'a>>, rules: BurstRules) -> Vec<Burst> {
    let mut out: Vec<Burst> = Vec::new();
    let mut actor: Option<&ActorId> = None;
    // The heads of the prefix of the timeline seen so far.
    let mut heads: BTreeSet<ChangeHash> = BTreeSet::new();
    for (i, c) in steps.enumerate() {
        let joins = out.last().is_some_and(|b| {
            actor == Some(c.actor)
                && c.time - b.end <= rules.max_gap
                && c.time - b.start <= rules.max_span
                && b.changes < rules.max_changes
        });
        if !joins {
            if let Some(b) = out.last_mut() {
                b.heads_after = hex_heads(&heads);
            }
            actor = Some(c.actor);
            out.push(Burst {
                first: i,
                changes: 0,
                actor: c.actor.to_hex_string(),
                author: author_of(c.actor),
                start: c.time,
                end: c.time,
                ops: 0,
                heads_before: hex_heads(&heads),
                heads_after: Vec::new(),
                paths: Vec::new(),
                paths_sampled: false,
            });
        }
        for d in c.deps {
            heads.remove(d);
        }
        heads.insert(c.hash);
        if let Some(b) = out.last_mut() {
            b.changes += 1;
            b.end = b.end.max(c.time);
            b.ops += c.ops;
        }
    }
    if let Some(b) = out.last_mut() {
        b.heads_after = hex_heads(&heads);
    }
    out
}

/// Groups `changes` (oldest first, as [`changes`] returns them) into bursts.
pub fn bursts(changes: &[ChangeInfo], rules: BurstRules) -> Vec<Burst> {
    let parsed: Vec<(ActorId, ChangeHash, Vec<ChangeHash>)> = changes
        .iter()
        .map(|c| {
            let actor = hex::decode(&c.actor)
                .map(ActorId::from)
                .unwrap_or_else(|_| ActorId::from(c.actor.as_bytes()));
            let hash = c.hash.parse().unwrap_or(ChangeHash([0; 32]));
            let deps = c.deps.iter().filter_map(|d| d.parse().ok()).collect();
            (actor, hash, deps)
        })
        .collect();
    group(
        changes
            .iter()
            .zip(&parsed)
            .map(|(c, (actor, hash, deps))| Step {
                actor,
                time: c.time,
                hash: *hash,
                deps,
                ops: c.ops,
            }),
        rules,
    )
}

/// The bursts of `doc` and its number of changes, straight from Automerge's
/// change metadata (what [`changes`] + [`bursts`] give, without building
/// every [`ChangeInfo`]: for long histories).
pub fn timeline(doc: &Automerge, rules: BurstRules) -> (usize, Vec<Burst>) {
    let metas = doc.get_changes_meta(&[]);
    let bursts = group(
        metas.iter().map(|m| Step {
            actor: &m.actor,
            time: m.timestamp,
            hash: m.hash,
            deps: &m.deps,
            ops: (m.max_op + 1).saturating_sub(m.start_op),
        }),
        rules,
    );
    (metas.len(), bursts)
}

/// At most this many paths are listed per burst.
const MAX_PATHS: usize = 8;

/// At most this many changes of one burst are read for its paths (spread
/// evenly, first and last included); longer bursts set `paths_sampled`.
const MAX_SAMPLED: usize = 64;

/// Fills each burst's `paths` (bursts made from `doc`'s changes in
/// [`changes`]' order) from the operations of its changes: the map key or
/// the list/text an operation touched, as a path in today's document.
pub fn touched_paths(doc: &Automerge, bursts: &mut [Burst]) {
    let mut path_of: HashMap<String, Option<String>> = HashMap::new();
    let all = doc.get_changes(&[]);
    for b in bursts.iter_mut() {
        let picks: Vec<usize> = if b.changes <= MAX_SAMPLED {
            (b.first..b.first + b.changes).collect()
        } else {
            b.paths_sampled = true;
            (0..MAX_SAMPLED)
                .map(|k| b.first + k * (b.changes - 1) / (MAX_SAMPLED - 1))
                .collect()
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut paths = BTreeSet::new();
        for i in picks {
            let Some(change) = all.get(i) else {
                continue;
            };
            for op in change.decode().operations {
                let obj = op.obj.to_string();
                let key = match &op.key {
                    automerge::legacy::Key::Map(k) => Some(k.to_string()),
                    automerge::legacy::Key::Seq(_) => None,
                };
                let tag = format!("{obj}\u{0}{}", key.as_deref().unwrap_or(""));
                if !seen.insert(tag) {
                    continue;
                }
                let base = path_of
                    .entry(obj.clone())
                    .or_insert_with(|| object_path(doc, &obj))
                    .clone();
                let path = match (base, key) {
                    (Some(base), Some(k)) if base == "/" => format!("/{k}"),
                    (Some(base), Some(k)) => format!("{base}/{k}"),
                    (Some(base), None) => base,
                    (None, _) => "(removed since)".to_owned(),
                };
                paths.insert(path);
            }
            if paths.len() > MAX_PATHS {
                break;
            }
        }
        b.paths = paths.into_iter().take(MAX_PATHS).collect();
    }
}

/// Where the object `obj` ("_root" or "counter@actor") is in the document now.
fn object_path(doc: &Automerge, obj: &str) -> Option<String> {
    let id = doc.import_obj(obj).ok()?;
    let path: Vec<automerge::Prop> = doc
        .parents(&id)
        .ok()?
        .visible_path()?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    Some(path_to_string(&path))
}

/// Heads from their hex strings (as [`Burst`] holds them).
pub fn heads_of(hex: &[String]) -> Vec<ChangeHash> {
    hex.iter().filter_map(|h| h.parse().ok()).collect()
}
