//! The commands the UI invokes (see `ui/src/backend/tauri.ts`). Each one
//! parses its arguments and delegates to the core; errors reach the UI as
//! [`CommandError`]s. Tauri maps the snake_case arguments to camelCase keys.
//! What can take long on a big document (loading it, its history, a past
//! version, import and export) runs through `Service::off_runtime`, so the
//! embedded server on the same runtime keeps serving peers meanwhile.

use tandem::discovery::peers::PeerInfo;
use tandem::error_code::{Code, ErrorBody as CommandError};
use tandem::history::{self, Conflict, DiffEntry};
use tandem::node::desktop::{Desktop, Health};
use tandem::node::{LanSettings, LanStatus};
use tandem::service::answers::{Created, RemoteDeletion};
use tandem::service::search::{search_blocking, SearchResults};
use tandem::service::sessions::Handle;
use tandem::service::{files, ActivityReport, DocListing, HistoryEdit, RemoteInfo, RemoteSpec};
use tandem::service::{RemoteUpdate, Timeline};
use tandem::share::SharePolicy;
use tandem::DocId;
use tauri::ipc::{Channel, Response};
use tauri::State;

type Result<T> = std::result::Result<T, CommandError>;
type App<'a> = State<'a, Desktop>;
type Json = serde_json::Value;

/// Declares async commands whose body is one expression, each as its doc
/// comment then `name(arguments) -> Answer = body;` (a `?` in the body
/// turns the core's errors into [`CommandError`]s).
macro_rules! commands {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $answer:ty = $body:expr;)*) => {$(
        $(#[$doc])*
        #[tauri::command]
        pub async fn $name($($arg: $ty),*) -> Result<$answer> {
            Ok($body)
        }
    )*};
}

commands! {
    /// Every stored document, with its share policy.
    list_docs(app: App<'_>) -> Vec<DocListing> = app.service.list_docs()?;
    /// A new document from the note template.
    create_doc(app: App<'_>, title: String) -> Created = Created {
        id: app.service.create_doc(&title)?,
    };
    /// Deletes a document here (leaving a tombstone so no peer brings it back);
    /// with `everywhere`, also on every server it syncs with.
    delete_doc(app: App<'_>, id: String, everywhere: Option<bool>) -> Vec<RemoteDeletion> =
        app.delete_doc(&DocId::parse(&id)?, everywhere.unwrap_or(false)).await?;
    /// The document as `.automerge` bytes (an `ArrayBuffer` in the UI).
    export_doc(app: App<'_>, id: String) -> Response = {
        let id = DocId::parse(&id)?;
        Response::new(app.service.off_runtime(move |s| s.export_doc(&id)).await?)
    };
    /// `.automerge` bytes become a new document.
    import_doc(app: App<'_>, bytes: Vec<u8>) -> Created = Created {
        id: app.service.off_runtime(move |s| s.import_doc(&bytes)).await?,
    };
    /// Searches the text of every document.
    search_docs(app: App<'_>, query: String) -> SearchResults =
        search_blocking(app.service.clone(), query).await?;
    /// Every remote and its state.
    list_remotes(app: App<'_>) -> Vec<RemoteInfo> = app.service.remotes();
    /// Opens a link from a note in the system's default app (web and mail links only).
    open_external(url: String) -> () = files::open_external(&url)?;
    /// Every connection in and out, and each open document's recent activity.
    activity(app: App<'_>) -> ActivityReport = app.service.activity();
    /// Connects a remote again now.
    retry_remote(app: App<'_>, id: String) -> RemoteInfo = app.service.retry_remote(&id)?;
    /// Gives a remote a new token or pinned certificate, and connects again.
    update_remote(
        app: App<'_>, id: String, token: Option<String>, fingerprint: Option<String>
    ) -> RemoteInfo = app.service.update_remote(&id, RemoteUpdate { token, fingerprint })?;
    /// Stops and forgets a remote.
    remove_remote(app: App<'_>, id: String) -> () = app.service.remove_remote(&id)?;
    /// Whether the app is on the LAN now, and who it is there.
    lan_status(app: App<'_>) -> LanStatus = app.node.lan_status().await.ok_or_else(lan_off)?;
    /// Changes LAN settings: presence even with nothing shared, mDNS discovery,
    /// the name peers see.
    set_lan_settings(app: App<'_>, settings: LanSettings) -> LanStatus =
        app.node.configure_lan(settings).await.ok_or_else(lan_off)??;
    /// LAN peers, discovered now or remembered (none while discovery is off).
    list_peers(app: App<'_>) -> Vec<PeerInfo> = app.service.peers();
    /// The documents a LAN peer shares, fetched from it (its `GET /_docs`).
    peer_docs(app: App<'_>, id: String) -> Json = app.service.peer_docs(&id).await?;
    /// Opens a LAN peer's shared document: a local copy kept in live sync.
    open_peer_doc(app: App<'_>, id: String, doc_id: String) -> RemoteInfo =
        app.service.open_peer_doc(&id, &DocId::parse(&doc_id)?)?;
    /// Records that the user compared and confirmed a peer's verification code.
    verify_peer(app: App<'_>, id: String) -> PeerInfo = app.service.verify_peer(&id)?;
    /// Forgets a peer's pinned certificate (after a legitimate change).
    forget_peer(app: App<'_>, id: String) -> () = app.service.forget_peer(&id)?;
    /// Liveness, version and where the embedded server listens.
    health(app: App<'_>) -> Health = app.health();
    /// The OS user's name (the default display name of this install's profile).
    os_user_name() -> Option<String> = files::os_user_name();
    /// Opens the data folder in the system's file manager.
    open_data_folder(app: App<'_>) -> () = files::open_with_system(&app.data_dir)?;
    /// The timeline of a document (edit bursts, authors, times, paths).
    doc_history(app: App<'_>, id: String) -> Timeline = {
        let id = DocId::parse(&id)?;
        app.service.off_runtime(move |s| s.history(&id)).await?
    };
    /// The keys of a document holding concurrent values.
    doc_conflicts(app: App<'_>, id: String) -> Vec<Conflict> = {
        let id = DocId::parse(&id)?;
        app.service.off_runtime(move |s| s.conflicts(&id)).await?
    };
    /// Keeps one value of the conflict at `path` (its operation id `choice`), as a new change.
    resolve_conflict(app: App<'_>, id: String, path: Json, choice: String) -> HistoryEdit = {
        let (id, path) = (DocId::parse(&id)?, history::path_from_json(&path)?);
        app.service.off_runtime(move |s| s.resolve(&id, &path, &choice)).await?
    };
    /// The document as JSON as it was at `heads` (comma-separated change hashes).
    doc_at(app: App<'_>, id: String, heads: String) -> Json = {
        let id = DocId::parse(&id)?;
        app.service.off_runtime(move |s| s.doc_at(&id, &heads)).await?
    };
    /// What changed between two versions (Automerge's patches).
    doc_diff(app: App<'_>, id: String, from: String, to: String) -> Vec<DiffEntry> = {
        let id = DocId::parse(&id)?;
        app.service.off_runtime(move |s| s.diff(&id, &from, Some(&to))).await?
    };
}

fn lan_off() -> CommandError {
    CommandError::new(Code::NotFound, "this app is not set up for the LAN")
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
    let id = DocId::parse(&id)?;
    // A long document loads off the runtime; held until the session has it.
    let _loaded = {
        let id = id.clone();
        app.service
            .off_runtime(move |s| Ok(s.hub().open(&id)?))
            .await
    };
    Ok(app.sessions.open(&app.service, id, deliver)?)
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

/// Restores the document (or the field at `path`) as it was at `heads`, as a new change.
#[tauri::command]
pub async fn restore_version(
    app: App<'_>,
    id: String,
    heads: String,
    path: Option<Json>,
) -> Result<HistoryEdit> {
    let path = match path {
        Some(path) => history::path_from_json(&path)?,
        None => Vec::new(),
    };
    let id = DocId::parse(&id)?;
    Ok(app
        .service
        .off_runtime(move |s| s.restore(&id, &heads, &path))
        .await?)
}
