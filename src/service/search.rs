//! Full-text search across every stored document: each text and string value
//! (at any depth) is matched case-insensitively, and a hit names the field it
//! was found in with the words around it.

use std::sync::Arc;

use serde::Serialize;

use crate::doc_id::DocId;
use crate::hub::Hub;
use crate::service::{Service, ServiceError};

/// Documents larger than this on disk are not searched (loading one costs
/// about a second per 30 MB); the answer says how many were skipped.
pub const SEARCH_MAX_DOC_BYTES: u64 = 16 * 1024 * 1024;
/// The most hits returned.
pub const SEARCH_MAX_HITS: usize = 50;
/// Characters of context on each side of a match.
const CONTEXT_CHARS: usize = 40;

/// One place where the query occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SearchHit {
    /// The document.
    pub id: DocId,
    /// Its title, if any.
    pub title: Option<String>,
    /// Where in the document, e.g. `/body` or `/items/2`.
    pub path: String,
    /// The match with some words around it (`…` where cut).
    pub snippet: String,
}

/// What a search found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SearchResults {
    /// At most [`SEARCH_MAX_HITS`], one per document and field, in list order.
    pub hits: Vec<SearchHit>,
    /// Documents not searched (too large, or unreadable).
    pub skipped: usize,
}

/// [`Service::search`] on a blocking thread, so that a long search does
/// not hold up the async runtime (the HTTP API and the desktop app use it).
pub async fn search_blocking(
    service: Arc<Service>,
    query: String,
) -> Result<SearchResults, ServiceError> {
    service.off_runtime(move |s| s.search(&query)).await
}

/// Searches every stored document of `hub` for `query` (trimmed; empty
/// finds nothing).
pub fn search(hub: &Hub, query: &str) -> Result<SearchResults, crate::store::StoreError> {
    let needle = query.trim().to_lowercase();
    let mut results = SearchResults::default();
    if needle.is_empty() {
        return Ok(results);
    }
    for summary in hub.store().list()? {
        if results.hits.len() >= SEARCH_MAX_HITS {
            break;
        }
        if summary.size > SEARCH_MAX_DOC_BYTES {
            results.skipped += 1;
            continue;
        }
        let Ok(doc) = hub.open(&summary.id) else {
            results.skipped += 1;
            continue;
        };
        let mut found = Vec::new();
        collect(&doc.to_json(), &mut String::new(), &needle, &mut found);
        for (path, snippet) in found {
            if results.hits.len() >= SEARCH_MAX_HITS {
                break;
            }
            results.hits.push(SearchHit {
                id: summary.id.clone(),
                title: summary.title.clone(),
                path,
                snippet,
            });
        }
    }
    Ok(results)
}

/// Every string under `value` that contains `needle`, with its path.
fn collect(
    value: &serde_json::Value,
    path: &mut String,
    needle: &str,
    out: &mut Vec<(String, String)>,
) {
    match value {
        serde_json::Value::String(text) => {
            if let Some(snippet) = snippet_of(text, needle) {
                out.push((
                    if path.is_empty() {
                        "/".into()
                    } else {
                        path.clone()
                    },
                    snippet,
                ));
            }
        }
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let len = path.len();
                path.push('/');
                path.push_str(key);
                collect(v, path, needle, out);
                path.truncate(len);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                collect(v, path, needle, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The first match of `needle` (lower case) in `text`, with context.
fn snippet_of(text: &str, needle: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars.iter().flat_map(|c| c.to_lowercase()).collect();
    // Lower-casing can change the length (rare): then match on the original.
    let haystack = if lower.len() == chars.len() {
        &lower
    } else {
        &chars
    };
    let needle: Vec<char> = needle.chars().collect();
    let at = haystack
        .windows(needle.len())
        .position(|w| w == needle.as_slice())?;
    let start = at.saturating_sub(CONTEXT_CHARS);
    let end = (at + needle.len() + CONTEXT_CHARS).min(chars.len());
    let mut snippet: String = chars[start..end].iter().collect();
    snippet = snippet.split_whitespace().collect::<Vec<_>>().join(" ");
    if start > 0 {
        snippet.insert(0, '…');
    }
    if end < chars.len() {
        snippet.push('…');
    }
    Some(snippet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use automerge::transaction::Transactable;
    use std::sync::Arc;

    fn doc_with(hub: &Hub, id: &str, title: &str, body: &str) {
        let doc = hub.open(&DocId::parse(id).unwrap()).unwrap();
        doc.change(|tx| {
            tx.put(automerge::ROOT, "title", title)?;
            let text = tx.put_object(automerge::ROOT, "body", automerge::ObjType::Text)?;
            tx.splice_text(&text, 0, 0, body)?;
            let list = tx.put_object(automerge::ROOT, "items", automerge::ObjType::List)?;
            tx.insert(&list, 0, "milk")?;
            tx.insert(&list, 1, "Fresh Basil leaves")
        })
        .unwrap();
    }

    #[test]
    fn finds_text_at_any_depth_case_insensitively_with_context() {
        let hub = Hub::new(Arc::new(MemoryStore::new()));
        doc_with(
            &hub,
            "groceries",
            "Groceries",
            "Remember the market on Saturday.",
        );
        doc_with(&hub, "plans", "Plans", "A long paragraph about nothing much, and then basil pesto, and a good many more words after it, so that the snippet is cut at the end.");
        let found = search(&hub, "BASIL").unwrap();
        let mut paths: Vec<(String, String)> = found
            .hits
            .iter()
            .map(|h| (h.id.as_str().to_owned(), h.path.clone()))
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            vec![
                ("groceries".into(), "/items/1".into()),
                ("plans".into(), "/body".into()),
                ("plans".into(), "/items/1".into()),
            ]
        );
        let body = found.hits.iter().find(|h| h.path == "/body").unwrap();
        assert!(
            body.snippet.starts_with('…') && body.snippet.ends_with('…'),
            "{}",
            body.snippet
        );
        assert!(body.snippet.contains("basil pesto"), "{}", body.snippet);
        assert_eq!(body.title.as_deref(), Some("Plans"));
        assert!(search(&hub, "   ").unwrap().hits.is_empty());
        assert!(search(&hub, "nowhere to be found").unwrap().hits.is_empty());
    }
    #[tokio::test]
    async fn a_search_on_a_blocking_thread_finds_the_same() {
        let service = Service::start(Hub::new(Arc::new(MemoryStore::new())));
        doc_with(
            service.hub(),
            "groceries",
            "Groceries",
            "Saffron for Sunday",
        );
        let found = search_blocking(service.clone(), "saffron".into())
            .await
            .unwrap();
        assert_eq!(found, search(service.hub(), "saffron").unwrap());
        assert_eq!(found.hits.len(), 1);
        assert_eq!(found.hits[0].path, "/body");
    }
}
