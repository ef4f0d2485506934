//! Generates the Tauri context (config, capabilities, icons, the embedded UI).

fn main() {
    tauri_build::build();
}
