//! `tandem doctor`: checks a data directory and says what is wrong.
//!
//! It looks at who holds the directory's lock, at file permissions (nothing
//! readable by other users), at the changes quarantined because Automerge
//! rejected them, and loads every document the way a server would — without
//! changing anything, so it is safe to run next to a running server. The exit
//! code is non-zero when it finds a problem.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{default_data_dir, CliError};
use tandem::store::perms::{self, LooseMode};
use tandem::store::{DirLock, Durability, QuarantinedRow, SqliteStore, Store};

/// Flags of `tandem doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The data directory [default: the platform data dir, or $TANDEM_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// What the doctor found.
#[derive(Debug, Serialize)]
struct Report {
    data_dir: PathBuf,
    /// The pid of the Tandem using the directory now, if one is
    /// (`null` inside when it did not write its pid).
    in_use_by: Option<Option<u32>>,
    /// Files and directories other users can read.
    permissions: Vec<LooseMode>,
    documents: Vec<DocReport>,
    problems: usize,
}

/// One document's health.
#[derive(Debug, Serialize)]
struct DocReport {
    id: String,
    /// Whether it loads (possibly without its damaged chunks).
    loads: bool,
    /// Why it does not load.
    error: Option<String>,
    /// Chunks a server would quarantine on its next open.
    damaged: Vec<Damaged>,
    /// Chunks already quarantined.
    quarantined: Vec<QuarantinedRow>,
}

#[derive(Debug, Serialize)]
struct Damaged {
    seq: i64,
    error: String,
}

impl DocReport {
    fn problems(&self) -> usize {
        usize::from(!self.loads) + self.damaged.len() + self.quarantined.len()
    }
}

pub(crate) fn run(args: DoctorArgs) -> Result<(), CliError> {
    let dir = args.data_dir.unwrap_or_else(default_data_dir);
    if !dir.join(SqliteStore::FILE_NAME).exists() {
        return Err(format!("no Tandem store in {}", dir.display()).into());
    }
    let report = examine(&dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    match report.problems {
        0 => Ok(()),
        n => Err(format!(
            "{n} problem{} in {}",
            if n == 1 { "" } else { "s" },
            dir.display()
        )
        .into()),
    }
}

fn examine(dir: &Path) -> Result<Report, CliError> {
    // Before opening anything: opening the store tightens modes itself.
    let permissions = perms::loose_modes(dir)
        .map_err(|e| format!("cannot read the permissions in {}: {e}", dir.display()))?;
    let in_use_by = DirLock::holder(dir)?;
    let store = SqliteStore::open_dir_unlocked(dir, Durability::Process)?;
    let mut quarantined = store.quarantined()?;
    let mut documents = Vec::new();
    for summary in store.list()? {
        let id = summary.id;
        let (loads, error, damaged) = match store.load_parts(&id)? {
            None => (true, None, Vec::new()), // deleted meanwhile
            Some(parts) => match tandem::hub::check(&parts) {
                Ok(rejected) => (
                    true,
                    None,
                    rejected
                        .into_iter()
                        .map(|r| Damaged {
                            seq: r.seq,
                            error: r.error,
                        })
                        .collect(),
                ),
                Err(e) => (false, Some(e.to_string()), Vec::new()),
            },
        };
        let mine = quarantined
            .iter()
            .filter(|q| q.doc_id == id.as_str())
            .cloned()
            .collect();
        documents.push(DocReport {
            id: id.as_str().to_owned(),
            loads,
            error,
            damaged,
            quarantined: mine,
        });
    }
    // Quarantined rows of documents that are no longer listed.
    quarantined.retain(|q| !documents.iter().any(|d| d.id == q.doc_id));
    for q in quarantined {
        match documents.iter_mut().find(|d| d.id == q.doc_id) {
            Some(doc) => doc.quarantined.push(q),
            None => documents.push(DocReport {
                id: q.doc_id.clone(),
                loads: false,
                error: Some("only quarantined changes are left".into()),
                damaged: Vec::new(),
                quarantined: vec![q],
            }),
        }
    }
    let problems = permissions.len() + documents.iter().map(DocReport::problems).sum::<usize>();
    Ok(Report {
        data_dir: dir.to_owned(),
        in_use_by,
        permissions,
        documents,
        problems,
    })
}

fn print_text(report: &Report) {
    println!("Data directory: {}", report.data_dir.display());
    match report.in_use_by {
        None => println!("Lock: free (no Tandem is using it)"),
        Some(Some(pid)) => println!("Lock: held by a running Tandem (pid {pid})"),
        Some(None) => println!("Lock: held by a running Tandem"),
    }
    if report.permissions.is_empty() {
        println!("Permissions: ok (only you can read it)");
    } else {
        println!("Permissions:");
        for loose in &report.permissions {
            println!("  {loose}");
        }
    }
    println!("Documents: {}", report.documents.len());
    for doc in &report.documents {
        if doc.problems() == 0 {
            println!("  {}: ok", doc.id);
            continue;
        }
        if let Some(error) = &doc.error {
            println!("  {}: does not load: {error}", doc.id);
        }
        for d in &doc.damaged {
            println!(
                "  {}: change row {} is damaged ({}); the next open moves it to quarantine",
                doc.id, d.seq, d.error
            );
        }
        for q in &doc.quarantined {
            println!(
                "  {}: change row {} ({} bytes) quarantined at {} ms since epoch: {}",
                doc.id, q.seq, q.size, q.quarantined_ms, q.error
            );
        }
    }
    if report.documents.iter().any(|d| !d.quarantined.is_empty()) {
        println!(
            "Quarantined changes are kept in the `quarantine` table of {}; the documents load \
             without them. Syncing with a peer that has those documents brings the lost changes \
             back.",
            SqliteStore::FILE_NAME
        );
    }
    match report.problems {
        0 => println!("No problems found."),
        n => println!("{n} problem(s) found."),
    }
}
