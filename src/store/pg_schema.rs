//! The PostgreSQL schema, as numbered migrations applied once each.
//!
//! Every node runs [`migrate`] at start; an advisory lock taken for the
//! transaction makes nodes starting together apply each step exactly once,
//! and `tandem_migrations` records which steps a database has.

use postgres::Client;

/// Steps in order; a step, once released, is never edited (add a new one).
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE docs (
            id TEXT PRIMARY KEY,
            title TEXT,
            heads TEXT NOT NULL DEFAULT '[]',
            snapshot BYTEA,
            snapshot_size BIGINT NOT NULL DEFAULT 0,
            chunk_count BIGINT NOT NULL DEFAULT 0,
            chunk_size BIGINT NOT NULL DEFAULT 0,
            created_ms BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL
        );
        CREATE TABLE chunks (
            seq BIGSERIAL PRIMARY KEY,
            doc_id TEXT NOT NULL,
            data BYTEA NOT NULL
        );
        CREATE INDEX chunks_by_doc ON chunks (doc_id, seq);
        CREATE TABLE sync_states (
            doc_id TEXT NOT NULL,
            peer TEXT NOT NULL,
            state BYTEA NOT NULL,
            PRIMARY KEY (doc_id, peer)
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE quarantine (
            doc_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            bytes BYTEA NOT NULL,
            error TEXT NOT NULL,
            time_ms BIGINT NOT NULL,
            PRIMARY KEY (doc_id, seq)
        );
        CREATE TABLE tombstones (
            doc_id TEXT PRIMARY KEY,
            deleted_ms BIGINT NOT NULL,
            heads TEXT NOT NULL,
            everywhere BOOLEAN NOT NULL
        );",
    ),
    (
        2,
        "CREATE TABLE cluster_nodes (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            started TIMESTAMPTZ NOT NULL DEFAULT now(),
            last_seen TIMESTAMPTZ NOT NULL DEFAULT now(),
            connections BIGINT NOT NULL DEFAULT 0,
            draining BOOLEAN NOT NULL DEFAULT false
        );
        CREATE TABLE cluster_leases (
            doc_id TEXT PRIMARY KEY,
            node_id TEXT NOT NULL,
            expires TIMESTAMPTZ NOT NULL,
            epoch BIGINT NOT NULL DEFAULT 1
        );
        CREATE INDEX cluster_leases_by_node ON cluster_leases (node_id);",
    ),
    (
        3,
        // Team tokens, shared by every node: only a SHA-256 digest of each
        // secret is kept. The cluster's own secret (nodes vouching for the
        // users whose requests they forward) lives in `settings`, and a
        // node's TLS certificate fingerprint next to its URL.
        "CREATE TABLE team_tokens (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            docs TEXT[],
            digest BYTEA NOT NULL UNIQUE,
            created TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        ALTER TABLE cluster_nodes ADD COLUMN fingerprint TEXT;",
    ),
];

/// The newest schema version this build knows.
pub(crate) const LATEST: i32 = 3;

/// Brings the database to [`LATEST`]; returns the version it had before.
pub(crate) fn migrate(client: &mut Client) -> Result<i32, postgres::Error> {
    let mut tx = client.transaction()?;
    // Any constant shared by all nodes; released at commit.
    tx.execute("SELECT pg_advisory_xact_lock(745001)", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS tandem_migrations (
            version INTEGER PRIMARY KEY,
            applied TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let before: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM tandem_migrations",
            &[],
        )?
        .get(0);
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > before) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO tandem_migrations (version) VALUES ($1)",
            &[version],
        )?;
    }
    tx.commit()?;
    Ok(before)
}
