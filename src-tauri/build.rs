//! Generates the Tauri context (config, capabilities, icons, the embedded UI)
//! and the app's own permissions: one `allow-…`/`deny-…` pair per command in
//! [`COMMANDS`] (an app manifest), so that the app's commands are under the
//! ACL like the plugins' and a window may call only what its capability
//! (`capabilities/default.json`) grants.
//!
//! The UI is embedded from `../ui/dist` (built with `cd ui && npm ci && npm
//! run build`). When it has not been built, the app embeds a page saying so
//! instead, so that `cargo build/test --workspace` work without Node.

use std::path::{Path, PathBuf};

const UI_INDEX: &str = "../ui/dist/index.html";

/// Turns `src/command_list.rs` into the command names.
macro_rules! command_list {
    ($($module:ident::$name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}

/// Every command of the app (`src/command_list.rs`).
const COMMANDS: &[&str] = include!("src/command_list.rs");

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tandem</title></head>
<body style="font-family: sans-serif; margin: 3em; line-height: 1.5">
<h1>Tandem's UI is not built</h1>
<p>This app was compiled before <code>ui/dist</code> existed. Build the UI, then the app:</p>
<pre>cd ui &amp;&amp; npm ci &amp;&amp; npm run build &amp;&amp; cd .. &amp;&amp; cargo build -p tandem-desktop</pre>
<p>(or run <code>scripts/run.sh</code>, which does both).</p>
</body></html>
"#;

fn main() {
    println!("cargo:rerun-if-changed={UI_INDEX}");
    println!("cargo:rerun-if-changed=src/command_list.rs");
    if !Path::new(UI_INDEX).is_file() {
        match placeholder_dir() {
            Ok(dir) => {
                // Merged into tauri.conf.json by tauri-build here and by
                // `generate_context!` when the crate compiles.
                let patch = serde_json::json!({ "build": { "frontendDist": dir } }).to_string();
                std::env::set_var("TAURI_CONFIG", &patch);
                println!("cargo:rustc-env=TAURI_CONFIG={patch}");
                println!(
                    "cargo:warning=ui/dist is not built: the app shows a placeholder \
                     (run `cd ui && npm ci && npm run build`, then build again)"
                );
            }
            Err(e) => println!("cargo:warning=cannot write the placeholder UI: {e}"),
        }
    }
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}

/// Writes the placeholder page into `$OUT_DIR/ui-placeholder`.
fn placeholder_dir() -> std::io::Result<PathBuf> {
    let out = std::env::var_os("OUT_DIR").ok_or_else(|| std::io::Error::other("no OUT_DIR"))?;
    let dir = PathBuf::from(out).join("ui-placeholder");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("index.html"), PLACEHOLDER)?;
    Ok(dir)
}
