//! The `tandem-desktop` binary: everything happens in [`tandem_desktop::run`].

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    tandem_desktop::run()
}
