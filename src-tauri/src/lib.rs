//! # Tandem desktop
//!
//! A thin Tauri 2 shell over the [`tandem`] core: [`run`] starts a node
//! ([`tandem::node::desktop::builder`]: store, service, the embedded sync
//! server on loopback so other Tandem instances and the CLI can sync with
//! this app, LAN presence on demand) and serves the web UI (`ui/dist`)
//! whose Tauri backend calls the [`commands`] (each listed once in
//! `command_list.rs` and allowed by the ACL: `build.rs`,
//! `capabilities/default.json`). Service events reach the UI through
//! [`events`] only.
//!
//! Environment: see [`tandem::node::desktop`] (`TANDEM_DATA_DIR`,
//! `TANDEM_LISTEN`, `TANDEM_LAN_LISTEN`), and `RUST_LOG`.
//!
//! One app runs per data folder: a second launch hands its arguments
//! (`tandem://` links, `.automerge` files; see [`launch`]) to the running
//! one over D-Bus and exits.

pub mod commands;
pub mod events;
pub mod files;
pub mod launch;

use std::path::Path;
use std::process::ExitCode;

use tauri::{App, AppHandle, Manager, RunEvent, Runtime};

use tandem::node::desktop::{self, Desktop, SHUTDOWN_LIMIT};
use tandem::node::Listen;

type SetupError = Box<dyn std::error::Error>;

/// Turns `command_list.rs` into the invoke handler.
macro_rules! command_list {
    ($($module:ident::$name:ident),* $(,)?) => {
        tauri::generate_handler![$($module::$name),*]
    };
}

/// Runs the desktop app until its window is closed (or SIGINT/SIGTERM).
pub fn run() -> ExitCode {
    init_logging();
    let listen = match desktop::listen_from_env() {
        Ok(listen) => listen,
        Err(e) => return ExitCode::from(fail("bad configuration", e.into())),
    };
    let built = tauri::Builder::default()
        // First, so that a second launch exits before anything else starts.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(desktop::instance_id())
                .callback(|app, argv, cwd| {
                    tracing::info!(?argv, "a second launch handed over its arguments");
                    launch::handle(app, argv.iter().skip(1), Path::new(&cwd));
                })
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(tandem::service::launch::Launches::default())
        .setup(move |app| {
            // Tauri panics when setup fails; exit with a one-line message instead.
            if let Err(e) = setup(app, listen) {
                std::process::exit(i32::from(fail("Tandem could not start", e)));
            }
            Ok(())
        })
        .invoke_handler(include!("command_list.rs"))
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
    let data_dir = desktop::data_dir(app.path().app_data_dir().ok().as_deref());
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
        desktop::wait_for_signal().await;
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

/// Logs to stderr; `RUST_LOG` overrides the default `info`
/// ([`tandem::logging`]).
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tandem::logging::filter_from_env("info"))
        .with_writer(std::io::stderr)
        .try_init();
}
