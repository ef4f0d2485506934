//! Loading a document from the store can take long (0.6 s for the editing
//! trace): the server's handlers open documents here, on the blocking pool,
//! so a load does not stall every connection the runtime worker serves (a
//! 2-core machine has two workers). The service's own long operations go
//! through `Service::off_runtime`; streams of a document already open and
//! cheap to change stay on the runtime (see `hub::cost` for the costly ones).

use std::sync::Arc;

use super::ApiError;
use crate::doc_id::DocId;
use crate::hub::{DocError, Document, Hub};

/// Runs `work` (a load) on the blocking pool and gives back its result. A
/// panic in `work` carries on in the caller, as if it had run in place.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DocError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(ApiError::Internal(format!(
            "work on the blocking pool did not finish: {e}"
        ))),
    }
}

/// Opens `id` (creating it if new, as [`Hub::open`]); a document not in
/// memory yet is loaded off the runtime.
pub(crate) async fn open(hub: &Arc<Hub>, id: &DocId) -> Result<Arc<Document>, ApiError> {
    if let Some(doc) = hub.get_open(id) {
        return Ok(doc);
    }
    let (hub, id) = (Arc::clone(hub), id.clone());
    off_runtime(move || hub.open(&id)).await
}

/// Opens `id` if it exists (as [`Hub::open_existing`]), loading it off the
/// runtime.
pub(crate) async fn open_existing(
    hub: &Arc<Hub>,
    id: &DocId,
) -> Result<Option<Arc<Document>>, ApiError> {
    if let Some(doc) = hub.get_open(id) {
        return Ok(Some(doc));
    }
    let (hub, id) = (Arc::clone(hub), id.clone());
    off_runtime(move || hub.open_existing(&id)).await
}
