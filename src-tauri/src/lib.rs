//! # Tandem desktop
//!
//! A thin Tauri 2 shell over the [`tandem`] core: [`run`] opens the store,
//! starts the [`tandem::service::Service`] and its embedded sync server (so
//! other Tandem instances and the CLI can sync with this app), and serves
//! the web UI (`ui/dist`) whose Tauri backend calls the [`commands`].
//! Service events reach the UI through [`events`] only.
//!
//! Environment: `TANDEM_DATA_DIR` (instead of the platform's app data
//! directory), `TANDEM_LISTEN` (an exact address, e.g. `127.0.0.1:0`,
//! instead of the first free port from 127.0.0.1:7450), `RUST_LOG`. The app
//! does not start LAN discovery (mDNS); its server listens on loopback only.
//!
//! One app runs per data folder: a second launch hands its arguments
//! (`tandem://` links, `.automerge` files; see [`launch`]) to the running
//! one over D-Bus and exits.

pub mod commands;
pub mod error;
pub mod events;
pub mod files;
pub mod launch;
pub mod link;
pub mod sessions;
pub mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tauri::{App, AppHandle, Manager, RunEvent, Runtime};

use tandem::node::Listen;

use crate::state::{Desktop, SHUTDOWN_LIMIT};

type SetupError = Box<dyn std::error::Error>;

/// Runs the desktop app until its window is closed (or SIGINT/SIGTERM).
pub fn run() -> ExitCode {
    init_logging();
    let listen = match listen() {
        Ok(listen) => listen,
        Err(e) => return ExitCode::from(fail("bad configuration", e)),
    };
    let built = tauri::Builder::default()
        // First, so that a second launch exits before anything else starts.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance_id())
                .callback(|app, argv, cwd| {
                    tracing::info!(?argv, "a second launch handed over its arguments");
                    launch::handle(app, argv.iter().skip(1), Path::new(&cwd));
                })
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(launch::Launches::default())
        .setup(move |app| {
            // Tauri panics when setup fails; exit with a one-line message instead.
            if let Err(e) = setup(app, listen) {
                std::process::exit(i32::from(fail("Tandem could not start", e)));
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::list_docs,
            commands::create_doc,
            commands::delete_doc,
            commands::set_share,
            commands::doc_history,
            commands::doc_at,
            commands::doc_diff,
            commands::doc_conflicts,
            commands::restore_version,
            commands::resolve_conflict,
            commands::export_doc,
            commands::import_doc,
            commands::open_doc_channel,
            commands::send_sync,
            commands::close_doc_channel,
            commands::list_remotes,
            commands::add_remote,
            commands::remove_remote,
            commands::retry_remote,
            commands::search_docs,
            commands::activity,
            commands::open_external,
            commands::open_data_folder,
            commands::os_user_name,
            commands::update_remote,
            commands::list_peers,
            commands::peer_docs,
            commands::open_peer_doc,
            commands::verify_peer,
            commands::forget_peer,
            commands::health,
            commands::lan_status,
            commands::set_lan_settings,
            files::export_doc_to_file,
            files::import_doc_from_file,
            launch::take_launch_requests,
        ])
        .build(tauri::generate_context!());
    let app = match built {
        Ok(app) => app,
        Err(e) => return ExitCode::from(fail("Tandem could not start", e.into())),
    };
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            shutdown(app);
        }
    });
    ExitCode::SUCCESS
}

/// Logs why the app cannot run; the exit status to use.
fn fail(what: &str, e: SetupError) -> u8 {
    tracing::error!(error = %e, "{what}");
    eprintln!("tandem-desktop: error: {e}");
    1
}

/// Starts the core and hands it to the commands; relays its events; quits cleanly on signals.
fn setup<R: Runtime>(app: &mut App<R>, listen: Listen) -> Result<(), SetupError> {
    let data_dir = data_dir(app)?;
    let desktop = tauri::async_runtime::block_on(Desktop::start(&data_dir, listen))?;
    desktop.set_event_relay(events::forward(
        app.handle().clone(),
        desktop.service.subscribe(),
    ));
    app.manage(desktop);
    // What this launch was asked to open (the UI takes it once it runs).
    let cwd = std::env::current_dir().unwrap_or_default();
    launch::handle(app.handle(), std::env::args().skip(1), &cwd);
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: quitting");
        handle.exit(0);
    });
    Ok(())
}

/// Stops the core before the process exits (bounded, so a stuck peer cannot hang the exit).
fn shutdown<R: Runtime>(app: &AppHandle<R>) {
    if let Some(desktop) = app.try_state::<Desktop>() {
        let done = tauri::async_runtime::block_on(async {
            tokio::time::timeout(SHUTDOWN_LIMIT, desktop.shutdown()).await
        });
        if done.is_err() {
            tracing::warn!("shutdown did not finish within {SHUTDOWN_LIMIT:?}");
        }
    }
}

/// `TANDEM_DATA_DIR`, or the folder the CLI uses too (`tandem docs` lists
/// the app's documents). The app's own data folder of earlier versions
/// (`~/.local/share/dev.tandem.app`) is moved there once.
fn data_dir<R: Runtime>(app: &App<R>) -> Result<PathBuf, SetupError> {
    if let Some(dir) = std::env::var_os(tandem::store::location::DATA_DIR_ENV) {
        if !dir.is_empty() {
            return Ok(PathBuf::from(dir));
        }
    }
    let dir = tandem::store::default_data_dir();
    if let Ok(legacy) = app.path().app_data_dir() {
        match tandem::store::location::adopt_legacy_dir(&dir, &legacy) {
            Ok(tandem::store::location::Adoption::Moved { from }) => {
                tracing::info!(from = %from.display(), to = %dir.display(), "moved the app's documents to the shared data folder");
            }
            Ok(tandem::store::location::Adoption::Nothing) => {}
            Err(e) => {
                tracing::warn!(error = %e, legacy = %legacy.display(), "could not move the older data folder; its documents stay there")
            }
        }
    }
    Ok(dir)
}

/// The D-Bus name that makes the app single-instance: the app's
/// identifier, plus a hash of `TANDEM_DATA_DIR` when that is set, so that
/// apps on different data folders (tests, a second profile) run side by side.
fn instance_id() -> String {
    const APP: &str = "dev.tandem.app";
    match std::env::var_os(tandem::store::location::DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => {
            // FNV-1a: stable across builds, unlike std's hasher.
            let hash = dir
                .as_encoded_bytes()
                .iter()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
                });
            format!("{APP}.data{hash:016x}")
        }
        _ => APP.to_string(),
    }
}

/// `TANDEM_LISTEN`, or the default ports.
fn listen() -> Result<Listen, SetupError> {
    match std::env::var("TANDEM_LISTEN") {
        Ok(addr) if !addr.is_empty() => {
            let addr: SocketAddr = addr
                .parse()
                .map_err(|e| format!("bad TANDEM_LISTEN {addr:?}: {e}"))?;
            Ok(Listen::Exactly(addr))
        }
        _ => Ok(Listen::Remembered),
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default `info`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C on other platforms).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
