//! The commands the UI invokes (see `ui/src/backend/tauri.ts`). Each one
//! parses its arguments and delegates to the core; errors reach the UI as
//! [`CommandError`]s. Tauri maps the snake_case arguments to camelCase keys.

use serde::Serialize;
use tandem::discovery::peers::PeerInfo;
use tandem::history::{self, Conflict};
use tandem::node::{LanSettings, LanStatus};
use tandem::service::files;
use tandem::service::{DocListing, HistoryEdit, RemoteInfo, RemoteSpec, ServiceError, Timeline};
use tandem::share::SharePolicy;
use tandem::DocId;
use tauri::ipc::{Channel, Response};
use tauri::State;

use crate::error::{Code, CommandError};
use crate::state::Desktop;
use tandem::service::sessions::Handle;

type Result<T> = std::result::Result<T, CommandError>;
type App<'a> = State<'a, Desktop>;

/// The answer to `create_doc` and `import_doc`.
#[derive(Debug, Serialize)]
pub struct Created {
    /// The new document's ID.
    pub id: DocId,
}

/// The answer to `health`, as `GET /_health` gives it.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `true`.
    pub ok: bool,
    /// Tandem's version.
    pub version: &'static str,
    /// The embedded sync server's URL (or why it is not running).
    pub listen: String,
    /// Where the documents are kept.
    pub data_dir: String,
}

/// Every stored document, with its share policy.
#[tauri::command]
pub async fn list_docs(app: App<'_>) -> Result<Vec<DocListing>> {
    Ok(app.service.list_docs()?)
}

/// A new document from the note template.
#[tauri::command]
pub async fn create_doc(app: App<'_>, title: String) -> Result<Created> {
    let id = app.service.create_doc(&title)?;
    Ok(Created { id })
}

/// What happened to each remote copy when a document was deleted everywhere.
#[derive(Debug, serde::Serialize)]
pub struct RemoteDeletion {
    /// The remote document's URL.
    pub url: String,
    /// Whether the server deleted it.
    pub deleted: bool,
    /// Why not, when it did not.
    pub error: Option<String>,
}

/// Deletes a document here (leaving a tombstone so no peer brings it back);
/// with `everywhere`, also on every server it syncs with.
#[tauri::command]
pub async fn delete_doc(
    app: App<'_>,
    id: String,
    everywhere: Option<bool>,
) -> Result<Vec<RemoteDeletion>> {
    let id = DocId::parse(&id)?;
    if !everywhere.unwrap_or(false) {
        app.service.delete_doc(&id)?;
        return Ok(Vec::new());
    }
    let outcomes = app.service.delete_doc_everywhere(&id).await?;
    Ok(outcomes
        .into_iter()
        .map(|(url, result)| RemoteDeletion {
            url,
            deleted: result.is_ok(),
            error: result.err(),
        })
        .collect())
}

/// Sets who may see and sync a document over the embedded server
/// (`private`, `lan` or `link`), like `PUT /_docs/{id}/share`.
#[tauri::command]
pub async fn set_share(app: App<'_>, id: String, policy: String) -> Result<()> {
    let policy: SharePolicy = policy
        .parse()
        .map_err(|e: String| CommandError::new(Code::BadInput, e))?;
    Ok(app.service.set_share_policy(&DocId::parse(&id)?, policy)?)
}

/// The document as `.automerge` bytes (an `ArrayBuffer` in the UI).
#[tauri::command]
pub async fn export_doc(app: App<'_>, id: String) -> Result<Response> {
    let bytes = app.service.export_doc(&DocId::parse(&id)?)?;
    Ok(Response::new(bytes))
}

/// `.automerge` bytes become a new document.
#[tauri::command]
pub async fn import_doc(app: App<'_>, bytes: Vec<u8>) -> Result<Created> {
    let id = app.service.import_doc(&bytes)?;
    Ok(Created { id })
}

/// Starts the UI peer's sync session for a document: the document's
/// protocol lines arrive on `channel`, one per message, and the UI's go
/// through [`send_sync`]. Replaces an earlier session for the same document.
/// Returns the session's handle, for [`close_doc_channel`].
#[tauri::command]
pub async fn open_doc_channel(
    app: App<'_>,
    id: String,
    channel: Channel<String>,
) -> Result<Handle> {
    let deliver = move |line| channel.send(line).map_err(|e| e.to_string());
    Ok(app
        .sessions
        .open(&app.service, DocId::parse(&id)?, deliver)?)
}

/// One of the UI peer's protocol lines, for the document's open session.
/// Synchronous on purpose: such commands run in the order they are invoked.
#[tauri::command]
pub fn send_sync(app: App<'_>, id: String, line: String) -> Result<()> {
    let sent = app.sessions.send(&DocId::parse(&id)?, line);
    sent.map_err(|e| CommandError::new(Code::NotOpen, e.to_string()))
}

/// Ends a document's sync session (only session `handle`, when given, so a
/// late close cannot end a newer session). Closing nothing is not an error.
#[tauri::command]
pub fn close_doc_channel(app: App<'_>, id: String, handle: Option<Handle>) -> Result<()> {
    app.sessions.close(&DocId::parse(&id)?, handle);
    Ok(())
}

/// Every remote and its state.
#[tauri::command]
pub async fn list_remotes(app: App<'_>) -> Result<Vec<RemoteInfo>> {
    Ok(app.service.remotes())
}

/// Starts syncing a document with a remote server (`doc_id: null` makes a
/// local copy of the server's document). The answer carries `id` and `doc_id`.
#[tauri::command]
pub async fn add_remote(
    app: App<'_>,
    url: String,
    doc_id: Option<String>,
    token: Option<String>,
    fingerprint: Option<String>,
    trust: Option<bool>,
    wait: Option<bool>,
) -> Result<RemoteInfo> {
    let spec = RemoteSpec {
        url,
        doc_id: doc_id.as_deref().map(DocId::parse).transpose()?,
        token,
        fingerprint,
        trust: trust.unwrap_or(false),
        ..RemoteSpec::default()
    };
    if wait.unwrap_or(false) {
        return Ok(app.service.add_remote_checked(spec).await?);
    }
    Ok(app.service.add_remote(spec)?)
}

/// Opens a link from a note in the system's default app (web and mail links only).
#[tauri::command]
pub async fn open_external(url: String) -> Result<()> {
    Ok(files::open_external(&url)?)
}

/// Every connection in and out, and each open document's recent activity.
#[tauri::command]
pub async fn activity(app: App<'_>) -> Result<tandem::service::ActivityReport> {
    Ok(app.service.activity())
}

/// Searches the text of every document.
#[tauri::command]
pub async fn search_docs(
    app: App<'_>,
    query: String,
) -> Result<tandem::service::search::SearchResults> {
    let service = app.service.clone();
    let found = tauri::async_runtime::spawn_blocking(move || service.search(&query))
        .await
        .map_err(|e| {
            tandem::service::ServiceError::Unreachable(format!("the search stopped: {e}"))
        })??;
    Ok(found)
}

/// Connects a remote again now.
#[tauri::command]
pub async fn retry_remote(app: App<'_>, id: String) -> Result<RemoteInfo> {
    Ok(app.service.retry_remote(&id)?)
}

/// Gives a remote a new token or pinned certificate, and connects again.
#[tauri::command]
pub async fn update_remote(
    app: App<'_>,
    id: String,
    token: Option<String>,
    fingerprint: Option<String>,
) -> Result<RemoteInfo> {
    let update = tandem::service::RemoteUpdate { token, fingerprint };
    Ok(app.service.update_remote(&id, update)?)
}

/// Stops and forgets a remote.
#[tauri::command]
pub async fn remove_remote(app: App<'_>, id: String) -> Result<()> {
    Ok(app.service.remove_remote(&id)?)
}

/// Whether the app is on the LAN now, and who it is there.
#[tauri::command]
pub async fn lan_status(app: App<'_>) -> Result<LanStatus> {
    app.node.lan_status().await.ok_or_else(lan_off)
}

fn lan_off() -> CommandError {
    CommandError::new(Code::NotFound, "this app is not set up for the LAN")
}

/// Changes LAN settings: presence even with nothing shared, mDNS discovery,
/// the name peers see.
#[tauri::command]
pub async fn set_lan_settings(app: App<'_>, settings: LanSettings) -> Result<LanStatus> {
    Ok(app
        .node
        .configure_lan(settings)
        .await
        .ok_or_else(lan_off)??)
}

/// LAN peers, discovered now or remembered (none while discovery is off).
#[tauri::command]
pub async fn list_peers(app: App<'_>) -> Result<Vec<PeerInfo>> {
    Ok(app.service.peers())
}

/// The documents a LAN peer shares, fetched from it (its `GET /_docs`).
#[tauri::command]
pub async fn peer_docs(app: App<'_>, id: String) -> Result<serde_json::Value> {
    Ok(app.service.peer_docs(&id).await?)
}

/// Opens a LAN peer's shared document: a local copy kept in live sync.
#[tauri::command]
pub async fn open_peer_doc(app: App<'_>, id: String, doc_id: String) -> Result<RemoteInfo> {
    Ok(app.service.open_peer_doc(&id, &DocId::parse(&doc_id)?)?)
}

/// Records that the user compared and confirmed a peer's verification code.
#[tauri::command]
pub async fn verify_peer(app: App<'_>, id: String) -> Result<PeerInfo> {
    Ok(app.service.verify_peer(&id)?)
}

/// Forgets a peer's pinned certificate (after a legitimate change).
#[tauri::command]
pub async fn forget_peer(app: App<'_>, id: String) -> Result<()> {
    Ok(app.service.forget_peer(&id)?)
}

/// Liveness, version and where the embedded server listens.
#[tauri::command]
pub async fn health(app: App<'_>) -> Result<Health> {
    Ok(Health {
        ok: true,
        version: tandem::VERSION,
        listen: app.node.url(),
        data_dir: app.data_dir.display().to_string(),
    })
}

/// The OS user's name (the default display name of this install's profile).
#[tauri::command]
pub async fn os_user_name() -> Result<Option<String>> {
    Ok(files::os_user_name())
}

/// Opens the data folder in the system's file manager.
#[tauri::command]
pub async fn open_data_folder(app: App<'_>) -> Result<()> {
    Ok(files::open_with_system(&app.data_dir)?)
}

/// The timeline of a document (edit bursts, authors, times, paths).
#[tauri::command]
pub async fn doc_history(app: App<'_>, id: String) -> Result<Timeline> {
    Ok(app.service.history(&DocId::parse(&id)?)?)
}

/// The keys of a document holding concurrent values.
#[tauri::command]
pub async fn doc_conflicts(app: App<'_>, id: String) -> Result<Vec<Conflict>> {
    Ok(app.service.conflicts(&DocId::parse(&id)?)?)
}

/// Restores the document (or the field at `path`) as it was at `heads`, as a new change.
#[tauri::command]
pub async fn restore_version(
    app: App<'_>,
    id: String,
    heads: String,
    path: Option<serde_json::Value>,
) -> Result<HistoryEdit> {
    let path = match path {
        Some(p) => history::path_from_json(&p).map_err(ServiceError::from)?,
        None => Vec::new(),
    };
    Ok(app.service.restore(&DocId::parse(&id)?, &heads, &path)?)
}

/// Keeps one value of the conflict at `path` (its operation id `choice`), as a new change.
#[tauri::command]
pub async fn resolve_conflict(
    app: App<'_>,
    id: String,
    path: serde_json::Value,
    choice: String,
) -> Result<HistoryEdit> {
    let path = history::path_from_json(&path).map_err(ServiceError::from)?;
    Ok(app.service.resolve(&DocId::parse(&id)?, &path, &choice)?)
}

/// The document as JSON as it was at `heads` (comma-separated change hashes).
#[tauri::command]
pub async fn doc_at(app: App<'_>, id: String, heads: String) -> Result<serde_json::Value> {
    Ok(app.service.doc_at(&DocId::parse(&id)?, &heads)?)
}

/// What changed between two versions (Automerge's patches).
#[tauri::command]
pub async fn doc_diff(
    app: App<'_>,
    id: String,
    from: String,
    to: String,
) -> Result<Vec<history::DiffEntry>> {
    Ok(app.service.diff(&DocId::parse(&id)?, &from, Some(&to))?)
}
