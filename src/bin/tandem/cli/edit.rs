//! `tandem edit FILE …`: scripted edits to a .automerge file, in one change.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use tandem::edit::{apply, parse_path, Edit};
use tandem::store::FileStore;

/// Flags of `tandem edit`. Edits apply in the order: sets, splices, increments.
#[derive(Debug, Args)]
pub(crate) struct EditArgs {
    /// The .automerge file (created if missing).
    file: PathBuf,
    /// Put a JSON value at a path, e.g. --set title='"Hello"' (a string makes collaborative text).
    #[arg(long = "set", value_name = "PATH=JSON")]
    sets: Vec<String>,
    /// Splice a text: at POS delete DEL characters and insert TEXT.
    #[arg(long = "splice", num_args = 4, value_names = ["PATH", "POS", "DEL", "TEXT"], allow_hyphen_values = true)]
    splices: Vec<String>,
    /// Increment a counter (created if missing).
    #[arg(long = "incr", num_args = 2, value_names = ["PATH", "N"], allow_hyphen_values = true)]
    incrs: Vec<String>,
}

fn parse_edits(args: &EditArgs) -> Result<Vec<Edit>, CliError> {
    let mut edits = Vec::new();
    for set in &args.sets {
        let (path, json) = set
            .split_once('=')
            .ok_or_else(|| format!("--set {set:?}: expected PATH=JSON"))?;
        let value = serde_json::from_str(json).map_err(|e| {
            format!("--set {path}: {json:?} is not JSON ({e}); quote strings, e.g. '\"text\"'")
        })?;
        edits.push(Edit::Set {
            path: parse_path(path)?,
            value,
        });
    }
    for s in args.splices.chunks(4) {
        edits.push(Edit::Splice {
            path: parse_path(&s[0])?,
            pos: s[1]
                .parse()
                .map_err(|_| format!("--splice {}: POS {:?} is not a number", s[0], s[1]))?,
            del: s[2]
                .parse()
                .map_err(|_| format!("--splice {}: DEL {:?} is not a number", s[0], s[2]))?,
            text: s[3].clone(),
        });
    }
    for s in args.incrs.chunks(2) {
        edits.push(Edit::Incr {
            path: parse_path(&s[0])?,
            by: s[1]
                .parse()
                .map_err(|_| format!("--incr {}: N {:?} is not an integer", s[0], s[1]))?,
        });
    }
    if edits.is_empty() {
        return Err("nothing to do: give --set, --splice or --incr".into());
    }
    Ok(edits)
}

pub(crate) fn run(args: EditArgs) -> Result<(), CliError> {
    let edits = parse_edits(&args)?;
    let mut doc = match std::fs::read(&args.file) {
        Ok(bytes) => automerge::Automerge::load(&bytes)
            .map_err(|e| format!("{} is not an Automerge document: {e}", args.file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => automerge::Automerge::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", args.file.display()).into()),
    };
    let mut tx = doc.transaction();
    apply(&mut tx, &edits)?;
    tx.commit_with(
        automerge::transaction::CommitOptions::default().with_time(tandem::history::now_secs()),
    );
    FileStore::new(&args.file).write_atomically(&doc.save())?;
    Ok(())
}
