//! The cluster's tables: who is alive (`cluster_nodes`) and who owns which
//! document (`cluster_leases`). Every time comparison uses the database's
//! clock (`now()`), so the nodes' clocks need not agree.

use std::collections::HashSet;
use std::time::Duration;

use super::rendezvous::Node;
use crate::store::{PgStore, StoreError};

/// Who holds a document's lease, as one request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holder {
    /// This node (just claimed, or already held).
    Me,
    /// Another live node, at this base URL.
    Other(Node),
    /// Nobody holds a live lease.
    Nobody,
}

/// What one heartbeat learnt.
#[derive(Debug, Clone, Default)]
pub(crate) struct Beat {
    /// The documents whose leases this node still holds (renewed).
    pub(crate) held: HashSet<String>,
    /// The nodes alive now, this one included unless it is draining.
    pub(crate) live: Vec<Node>,
}

/// One node's row in the `/_cluster` listing.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct NodeStatus {
    /// Its identity.
    pub id: String,
    /// Its public URL.
    pub url: String,
    /// Whether it renewed its registration within the lease time.
    pub live: bool,
    /// Whether it is handing its documents over before stopping.
    pub draining: bool,
    /// Sync and UI connections it reported at its last heartbeat.
    pub connections: i64,
    /// Seconds since its last heartbeat.
    pub seen_secs_ago: f64,
    /// The documents whose live leases it holds.
    pub docs: Vec<String>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Claims `doc` for `me` if nobody holds a live lease on it (or `me` does),
/// else says who holds it. With `claim` false it only looks.
pub(crate) fn claim_or_find(
    store: &PgStore,
    doc: &str,
    me: &str,
    claim: bool,
    ttl: Duration,
) -> Result<Holder, StoreError> {
    let (doc, me, ttl) = (doc.to_owned(), me.to_owned(), secs(ttl));
    store.run("claim a document lease", move |c| {
        if claim {
            let claimed = c.query_opt(
                "INSERT INTO cluster_leases (doc_id, node_id, expires)
                 VALUES ($1, $2, now() + make_interval(secs => $3))
                 ON CONFLICT (doc_id) DO UPDATE
                    SET node_id = $2, expires = now() + make_interval(secs => $3),
                        epoch = cluster_leases.epoch + 1
                    WHERE cluster_leases.expires <= now() OR cluster_leases.node_id = $2
                 RETURNING node_id",
                &[&doc, &me, &ttl],
            )?;
            if claimed.is_some() {
                return Ok(Holder::Me);
            }
        }
        let row = c.query_opt(
            "SELECT l.node_id, n.url, n.fingerprint FROM cluster_leases l
             JOIN cluster_nodes n ON n.id = l.node_id
             WHERE l.doc_id = $1 AND l.expires > now()",
            &[&doc],
        )?;
        Ok(match row {
            None => Holder::Nobody,
            Some(r) if r.get::<_, &str>(0) == me => Holder::Me,
            Some(r) => Holder::Other(Node {
                id: r.get(0),
                url: r.get(1),
                pin: r.get(2),
            }),
        })
    })
}

/// Registers or renews `me`, lets go of `idle` documents, renews the other
/// leases of `me` and reads the live nodes — one round of the heartbeat.
pub(crate) fn beat(
    store: &PgStore,
    me: &Node,
    connections: i64,
    idle: Vec<String>,
    ttl: Duration,
) -> Result<Beat, StoreError> {
    let (me, ttl) = (me.clone(), secs(ttl));
    store.run("renew the cluster leases", move |c| {
        let mut tx = c.transaction()?;
        tx.execute(
            "INSERT INTO cluster_nodes (id, url, connections, fingerprint) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE
                SET url = $2, connections = $3, fingerprint = $4, last_seen = now()",
            &[&me.id, &me.url, &connections, &me.pin],
        )?;
        if !idle.is_empty() {
            // Expired rather than deleted: the row stays for writers' locks.
            tx.execute(
                "UPDATE cluster_leases SET expires = now()
                 WHERE node_id = $1 AND doc_id = ANY($2)",
                &[&me.id, &idle],
            )?;
        }
        let held = tx
            .query(
                "UPDATE cluster_leases SET expires = now() + make_interval(secs => $2)
                 WHERE node_id = $1 AND expires > now() RETURNING doc_id",
                &[&me.id, &ttl],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let live = nodes_of(&tx.query(LIVE_NODES, &[&ttl])?);
        // Rows of nodes gone for a day are only clutter.
        tx.execute(
            "DELETE FROM cluster_nodes WHERE last_seen < now() - interval '1 day'",
            &[],
        )?;
        tx.commit()?;
        Ok(Beat { held, live })
    })
}

/// The nodes seen within `$1` seconds and not draining, by id.
const LIVE_NODES: &str = "SELECT id, url, fingerprint FROM cluster_nodes
     WHERE last_seen > now() - make_interval(secs => $1) AND NOT draining
     ORDER BY id";

/// The rows of [`LIVE_NODES`] as nodes.
fn nodes_of(rows: &[postgres::Row]) -> Vec<Node> {
    rows.iter()
        .map(|r| Node {
            id: r.get(0),
            url: r.get(1),
            pin: r.get(2),
        })
        .collect()
}

/// The nodes alive now (registered within `ttl`, not draining).
pub(crate) fn live_nodes(store: &PgStore, ttl: Duration) -> Result<Vec<Node>, StoreError> {
    let ttl = secs(ttl);
    store.run("list the live nodes", move |c| {
        Ok(nodes_of(&c.query(LIVE_NODES, &[&ttl])?))
    })
}

/// Marks `me` as draining and expires all its leases at once, so other nodes
/// take its documents on their next request.
pub(crate) fn hand_over(store: &PgStore, me: &str) -> Result<u64, StoreError> {
    let me = me.to_owned();
    store.run("hand the leases over", move |c| {
        let mut tx = c.transaction()?;
        tx.execute(
            "UPDATE cluster_nodes SET draining = true WHERE id = $1",
            &[&me],
        )?;
        let n = tx.execute(
            "UPDATE cluster_leases SET expires = now() WHERE node_id = $1 AND expires > now()",
            &[&me],
        )?;
        tx.commit()?;
        Ok(n)
    })
}

/// Removes `me` from the node list (the last step of a clean stop).
pub(crate) fn leave(store: &PgStore, me: &str) -> Result<(), StoreError> {
    let me = me.to_owned();
    store.run("leave the cluster", move |c| {
        c.execute("DELETE FROM cluster_nodes WHERE id = $1", &[&me])
            .map(drop)
    })
}

/// Every registered node with its live leases, for `GET /_cluster`.
pub(crate) fn status(store: &PgStore, ttl: Duration) -> Result<Vec<NodeStatus>, StoreError> {
    let ttl = secs(ttl);
    store.run("list the cluster", move |c| {
        let rows = c.query(
            "SELECT n.id, n.url, n.last_seen > now() - make_interval(secs => $1), n.draining,
                    n.connections, EXTRACT(EPOCH FROM now() - n.last_seen)::FLOAT8,
                    COALESCE(array_agg(l.doc_id ORDER BY l.doc_id)
                             FILTER (WHERE l.doc_id IS NOT NULL), '{}')
             FROM cluster_nodes n
             LEFT JOIN cluster_leases l ON l.node_id = n.id AND l.expires > now()
             GROUP BY n.id ORDER BY n.id",
            &[&ttl],
        )?;
        Ok(rows
            .iter()
            .map(|r| NodeStatus {
                id: r.get(0),
                url: r.get(1),
                live: r.get(2),
                draining: r.get(3),
                connections: r.get(4),
                seen_secs_ago: r.get(5),
                docs: r.get(6),
            })
            .collect())
    })
}

/// The secret every node of the cluster shares (created by the first node):
/// with it a node forwards a user's UI socket to the node serving the
/// document, vouching for who the user is.
pub(crate) fn shared_secret(store: &PgStore) -> Result<String, StoreError> {
    let fresh = crate::server::tokens::random_secret();
    store.run("read the cluster's secret", move |c| {
        c.execute(
            "INSERT INTO settings (key, value) VALUES ('cluster/secret', $1)
             ON CONFLICT (key) DO NOTHING",
            &[&fresh],
        )?;
        Ok(c.query_one(
            "SELECT value FROM settings WHERE key = 'cluster/secret'",
            &[],
        )?
        .get(0))
    })
}
