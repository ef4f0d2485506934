//! What every handler shares: the hub, the options, and the shutdown machinery.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::protocol::DEFAULT_MAX_LINE;
use crate::service::Service;

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Bearer tokens; when non-empty, every route but `/_health` needs one.
    pub tokens: Vec<String>,
    /// The longest accepted ndjson line, in bytes.
    pub max_line: usize,
    /// How long an idle stream waits before sending `{"event":"ping"}`.
    pub ping_interval: Duration,
    /// How long the server waits for the first request line before it answers
    /// `200` anyway (a bad first line gets a `400` instead of a stream).
    pub first_line_wait: Duration,
    /// How long one line may wait for a client that does not read, before the
    /// connection is dropped.
    pub write_timeout: Duration,
    /// The largest `.automerge` upload accepted by the import endpoint.
    pub max_upload: usize,
    /// A built web UI to serve under `/_ui/` (the `ui/dist` directory).
    pub ui_dir: Option<std::path::PathBuf>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            max_line: DEFAULT_MAX_LINE,
            ping_interval: Duration::from_secs(15),
            first_line_wait: Duration::from_secs(1),
            write_timeout: Duration::from_secs(30),
            max_upload: 256 * 1024 * 1024,
            ui_dir: None,
        }
    }
}

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    /// The open documents.
    pub hub: Arc<Hub>,
    /// The UI-facing operations (documents, remotes, events).
    pub service: Arc<Service>,
    /// The address the server listens on, as a URL.
    pub listen: String,
    /// Tunables.
    pub options: Arc<ServerOptions>,
    /// Cancelled when the server shuts down: every stream ends.
    pub shutdown: CancellationToken,
    /// Every per-connection task, so shutdown can wait for them.
    pub tasks: TaskTracker,
}

impl AppState {
    /// State for a router over `service`, listening at `listen`.
    pub fn new(service: Arc<Service>, listen: String, options: ServerOptions) -> Self {
        Self {
            hub: service.hub().clone(),
            service,
            listen,
            options: Arc::new(options),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }
}
