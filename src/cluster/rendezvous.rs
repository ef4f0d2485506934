//! Rendezvous (highest-random-weight) hashing: which live node a document
//! should live on.
//!
//! Every node computes the same answer from the same list of live nodes,
//! without talking to the others, and when a node joins or leaves only the
//! documents that pick it move (about 1/n of them).

use sha2::{Digest, Sha256};

/// A live node as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// Its identity (random per process start).
    pub id: String,
    /// Its public base URL (`--advertise-url`).
    pub url: String,
    /// Its TLS certificate's fingerprint, when it serves a self-signed one:
    /// other nodes vouch for it with this pin when they redirect a client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

fn weight(doc: &str, node: &str) -> u64 {
    let mut hash = Sha256::new();
    hash.update(doc.as_bytes());
    hash.update([0]);
    hash.update(node.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The node `doc` belongs on among `nodes` (ties broken by id), or `None`
/// when there is no node.
pub fn pick<'a>(doc: &str, nodes: &'a [Node]) -> Option<&'a Node> {
    nodes
        .iter()
        .max_by(|a, b| (weight(doc, &a.id), &a.id).cmp(&(weight(doc, &b.id), &b.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<Node> {
        (0..n)
            .map(|i| Node {
                id: format!("node-{i}"),
                url: format!("http://127.0.0.1:{}", 7000 + i),
                pin: None,
            })
            .collect()
    }

    #[test]
    fn spreads_documents_evenly_and_moves_only_those_of_a_leaving_node() {
        let three = nodes(3);
        let docs: Vec<String> = (0..3000).map(|i| format!("doc-{i}")).collect();
        let mut counts = [0usize; 3];
        for doc in &docs {
            let at = pick(doc, &three).unwrap();
            counts[three.iter().position(|n| n == at).unwrap()] += 1;
        }
        for count in counts {
            assert!((800..1200).contains(&count), "uneven spread: {counts:?}");
        }
        let two = &three[..2];
        for doc in &docs {
            let before = pick(doc, &three).unwrap();
            let after = pick(doc, two).unwrap();
            if before.id != "node-2" {
                assert_eq!(before, after, "{doc} moved although its node stayed");
            }
        }
        assert_eq!(pick("x", &[]), None);
    }

    #[test]
    fn every_node_computes_the_same_answer_whatever_the_order() {
        let mut list = nodes(5);
        let first = pick("notes", &list).unwrap().clone();
        list.reverse();
        assert_eq!(pick("notes", &list).unwrap(), &first);
    }
}
