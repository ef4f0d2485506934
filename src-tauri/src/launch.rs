//! What the app was asked to open from outside, at its own start or handed
//! over by a second launch (the single-instance plugin forwards that
//! launch's arguments and exits it): sorted and imported by the core
//! ([`tandem::service::launch`]), queued in [`Launches`] until the UI takes
//! them ([`take_launch_requests`]); the [`LAUNCH`] event tells a running UI
//! that some are waiting.

use std::path::Path;

use tandem::service::launch::{classify, resolve, LaunchRequest, Launches};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use tandem::node::desktop::Desktop;

/// The event (no payload) telling the UI that launch requests are waiting.
pub const LAUNCH: &str = "launch";

/// Handles a launch's arguments (without the program name): queues what
/// they ask for, tells the UI, and brings the window to the front.
pub fn handle<R: Runtime, S: AsRef<str>>(
    app: &AppHandle<R>,
    args: impl IntoIterator<Item = S>,
    cwd: &Path,
) {
    let desktop = app.try_state::<Desktop>();
    let requests = resolve(desktop.as_deref().map(|d| &*d.service), classify(args, cwd));
    if !requests.is_empty() {
        if let Some(launches) = app.try_state::<Launches>() {
            launches.push(requests);
        }
        if let Err(e) = app.emit(LAUNCH, ()) {
            tracing::warn!(error = %e, "could not tell the UI about a launch request");
        }
    }
    focus_main_window(app);
}

/// Shows, unminimizes and focuses the main window.
pub fn focus_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let shown = window
            .unminimize()
            .and_then(|()| window.show())
            .and_then(|()| window.set_focus());
        if let Err(e) = shown {
            tracing::warn!(error = %e, "could not bring the window to the front");
        }
    }
}

/// The launch requests waiting for the UI (each is given once).
#[tauri::command]
pub fn take_launch_requests(launches: State<'_, Launches>) -> Vec<LaunchRequest> {
    launches.take()
}
