//! # Tandem core
//!
//! Live, collaborative Automerge documents synced over the ndjson-over-HTTP
//! protocol (`../shared/PROTOCOL.md`). No GUI dependency: the same library runs
//! in the desktop app and in a headless `tandem serve`.
//!
//! How data moves:
//!
//! - [`protocol`] — bytes ⇄ `{"event":…}` lines, and the per-connection
//!   [`protocol::SyncSession`] (sans-IO: sync state + termination checks).
//! - [`store`] — where documents live: [`store::SqliteStore`] (default),
//!   [`store::MemoryStore`], [`store::FileStore`].
//! - [`hub`] — the open [`hub::Document`]s. Every change, from any peer or a
//!   local edit, is stored first and then wakes every subscriber.
//! - [`link`] — one sync link as a state machine without I/O (pacing,
//!   pings, termination checks, rights), driven by the server and the client.
//! - [`server`] — the axum router (`PUT /{doc_id}` and the extras), served on
//!   one port as HTTP/1.1, h2c and TLS (h2 or http/1.1 by ALPN); automerge-repo
//!   clients sync over a WebSocket on `/` (`docs/automerge-repo.md`).
//! - [`service`] — what a UI needs: documents, remotes, events; the browser
//!   UI reaches it over HTTP/WebSocket, the desktop app through Tauri.
//! - [`client`] — syncs a local document with a remote server: one-shot with a
//!   termination check, or live with reconnects; redirects, TLS trust, tokens.
//!   The server may also be an automerge-repo sync server (`ws[s]://…/automerge:<id>`).
//! - [`cluster`] — several servers on one PostgreSQL database
//!   ([`store::PgStore`]): document leases, placement, failover.
//! - [`share`] — per-document share policies (private, lan, link).
//! - [`discovery`] — LAN peers: mDNS advertisement and browsing, the peer
//!   list and its trust store (certificates pinned on first use).
//! - [`tls`] — self-signed certificates, fingerprints and pinning.
//! - [`history`] — the timeline, any version, diffs, conflicts, restore.
//! - [`edit`] — small path-based edits (`tandem edit`).
//! - [`doc_id`] — validated document IDs.
//! - [`error_code`] — the error contract every UI sees: a [`error_code::Code`]
//!   and a message, the same over HTTP and IPC; each code's HTTP status.
//! - [`host`] — this machine's name and loopback checks.

pub mod client;
pub mod cluster;
pub mod discovery;
pub mod doc_id;
pub mod edit;
pub mod error_code;
pub mod history;
pub mod host;
pub mod hub;
pub mod link;
pub mod logging;
pub mod node;
pub mod protocol;
pub mod server;
pub mod service;
pub mod share;
pub mod store;
pub mod testing;
pub mod tls;

pub use doc_id::DocId;
pub use hub::{Document, Hub};

/// Tandem's version, as reported by `GET /_health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
