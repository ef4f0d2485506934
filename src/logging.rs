//! Which logs the CLI, the server and the desktop app write by default.
//!
//! One rule beyond the level: automerge's own `info` spans are off.
//! automerge 0.12 instruments `load_changes` at `info` with the document's
//! whole change graph as a field, so with a formatting subscriber at `info`
//! every load prints every change hash into a string nobody reads: about a
//! quarter of the time `tandem serve` takes to load the editing trace.
//! `RUST_LOG`, when set, is taken as it is.

use tracing_subscriber::EnvFilter;

/// Directives added to the default level: automerge logs warnings and
/// errors only.
const QUIET_LIBRARIES: &str = "automerge=warn";

/// The filter for `RUST_LOG`'s value `from_env` when there is one, else
/// `default_level` (e.g. `info`) for everything but automerge (see the
/// module docs). A `RUST_LOG` that does not parse is ignored, as if unset.
pub fn filter(from_env: Option<&str>, default_level: &str) -> EnvFilter {
    from_env
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{default_level},{QUIET_LIBRARIES}")))
}

/// [`filter`] with the process's `RUST_LOG`.
pub fn filter_from_env(default_level: &str) -> EnvFilter {
    filter(std::env::var("RUST_LOG").ok().as_deref(), default_level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;

    /// Counts the spans automerge opens.
    struct AutomergeSpans(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for AutomergeSpans {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::Id,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if attrs.metadata().target().starts_with("automerge") {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many automerge spans loading a saved document opens under `filter`.
    fn spans_while_loading(filter: EnvFilter) -> usize {
        use automerge::transaction::Transactable;
        let mut doc = automerge::AutoCommit::new();
        doc.put(automerge::ROOT, "title", "Trip plan").unwrap();
        let saved = doc.save();
        let count = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(AutomergeSpans(Arc::clone(&count)));
        tracing::subscriber::with_default(subscriber, || {
            automerge::Automerge::load(&saved).unwrap();
            // Loading changes into a document, as a sync's first write does.
            automerge::Automerge::new()
                .load_incremental(&saved)
                .unwrap();
        });
        count.load(Ordering::Relaxed)
    }

    #[test]
    fn automerge_spans_are_off_by_default_and_tandem_logs_at_the_level() {
        assert!(
            spans_while_loading(EnvFilter::new("info")) > 0,
            "a plain info filter lets automerge's load spans through"
        );
        assert_eq!(spans_while_loading(filter(None, "info")), 0);
        let subscriber = tracing_subscriber::registry().with(filter(None, "info"));
        tracing::subscriber::with_default(subscriber, || {
            assert!(tracing::enabled!(target: "tandem::hub", tracing::Level::INFO));
            assert!(!tracing::enabled!(target: "tandem::hub", tracing::Level::DEBUG));
            assert!(tracing::enabled!(target: "automerge::storage", tracing::Level::WARN));
        });
    }

    #[test]
    fn rust_log_is_taken_as_it_is_and_a_bad_one_is_ignored() {
        assert!(spans_while_loading(filter(Some("automerge=info"), "warn")) > 0);
        assert_eq!(
            spans_while_loading(filter(Some("[[not a filter"), "info")),
            0
        );
    }
}
