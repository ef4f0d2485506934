//! `tandem token add|list|revoke`: a cluster's team tokens, kept in its
//! PostgreSQL database so that every node honours the same ones. Only a
//! digest of each secret is stored; `add` prints the secret once.

use clap::{Args, Subcommand};

use super::CliError;
use tandem::server::tokens::{digest, random_secret, Role};
use tandem::store::PgStore;

/// Flags of `tandem token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    action: Action,
    /// The cluster's database (`postgres://user@host:port/db`), as given to
    /// `tandem serve --store`.
    #[arg(long, value_name = "URL", env = "TANDEM_STORE", global = true)]
    store: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Add a token and print its secret (shown this once only).
    Add {
        /// A unique name: who holds it (shown in logs and presence).
        name: String,
        /// read, write or owner.
        #[arg(long, default_value = "write")]
        role: String,
        /// Limit it to these documents (comma-separated IDs).
        #[arg(long, value_name = "DOC,…", value_delimiter = ',')]
        docs: Vec<String>,
    },
    /// List the tokens (names, roles, documents; never secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: every node refuses it within 2 seconds.
    Revoke {
        /// The token's name.
        name: String,
    },
}

fn open(store: Option<&str>) -> Result<PgStore, CliError> {
    let url = store.map(str::trim).unwrap_or_default();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("team tokens live in a cluster's PostgreSQL database: pass --store postgres://user@host:port/db (a single server uses serve --token-file)".into());
    }
    Ok(PgStore::connect(url)?)
}

pub(crate) fn run(args: TokenArgs) -> Result<(), CliError> {
    match args.action {
        Action::Add { name, role, docs } => {
            let role: Role = role.parse()?;
            if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
                return Err(format!("token name {name:?} must be one word").into());
            }
            for doc in &docs {
                tandem::DocId::parse(doc).map_err(|e| format!("document {doc:?}: {e}"))?;
            }
            let store = open(args.store.as_deref())?;
            let secret = random_secret();
            let docs = (!docs.is_empty()).then_some(docs);
            store.add_token(&name, role_name(role), docs, &digest(&secret))?;
            println!("{secret}");
            eprintln!(
                "token {name:?} ({}) added; its secret is shown only now: keep it private",
                role_name(role)
            );
        }
        Action::List { json } => {
            let tokens = open(args.store.as_deref())?.list_tokens()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
                return Ok(());
            }
            println!("{:<20} {:<6} DOCUMENTS", "NAME", "ROLE");
            for t in tokens {
                let docs = t.docs.map_or_else(|| "all".to_owned(), |d| d.join(","));
                println!("{:<20} {:<6} {docs}", t.name, t.role);
            }
        }
        Action::Revoke { name } => {
            if !open(args.store.as_deref())?.revoke_token(&name)? {
                return Err(format!("no token named {name:?}").into());
            }
            println!("token {name:?} revoked");
        }
    }
    Ok(())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Read => "read",
        Role::Write => "write",
        Role::Owner => "owner",
    }
}
