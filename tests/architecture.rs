//! Keeps ARCHITECTURE.md's layer map true: every `crate::…` path (and every
//! `super::…` path that climbs out of its top-level module) in `src/**/*.rs`
//! must name a layer its file's layer may use. A violation fails with the
//! file, the line and the layer it reached for.
//!
//! The table below is the map of ARCHITECTURE.md, written once. Test code
//! (what follows `#[cfg(test)]` + `mod …`) and comments are not checked.

use std::path::{Path, PathBuf};

/// Each layer (a top-level module of `src/`) and the layers it may use.
/// Anything may use the crate root itself (`crate::VERSION`).
const LAYERS: &[(&str, &[&str])] = &[
    ("error_code", &[]),
    ("logging", &[]),
    ("doc_id", &[]),
    ("host", &[]),
    ("history", &[]),
    ("protocol", &[]),
    ("edit", &[]),
    ("store", &["error_code", "doc_id"]),
    ("tls", &["error_code", "store"]),
    ("share", &["error_code", "store", "doc_id"]),
    (
        "hub",
        &["error_code", "protocol", "store", "history", "doc_id"],
    ),
    (
        "link",
        &["error_code", "protocol", "hub", "store", "doc_id"],
    ),
    (
        "client",
        &[
            "error_code",
            "link",
            "hub",
            "protocol",
            "store",
            "tls",
            "history",
            "doc_id",
            "host",
        ],
    ),
    (
        "server",
        &[
            "error_code",
            "client",
            "link",
            "hub",
            "protocol",
            "store",
            "tls",
            "share",
            "history",
            "doc_id",
            "host",
        ],
    ),
    (
        "cluster",
        &["error_code", "server", "hub", "store", "protocol", "doc_id"],
    ),
    (
        "discovery",
        &["error_code", "store", "tls", "doc_id", "host"],
    ),
    (
        "service",
        &[
            "error_code",
            "server",
            "client",
            "discovery",
            "link",
            "hub",
            "protocol",
            "store",
            "tls",
            "share",
            "history",
            "doc_id",
            "host",
        ],
    ),
    (
        "node",
        &[
            "error_code",
            "service",
            "server",
            "client",
            "cluster",
            "discovery",
            "link",
            "hub",
            "protocol",
            "store",
            "tls",
            "share",
            "history",
            "doc_id",
            "host",
        ],
    ),
    (
        "testing",
        &[
            "error_code",
            "node",
            "server",
            "client",
            "hub",
            "store",
            "tls",
            "doc_id",
        ],
    ),
    (
        "cli",
        &[
            "error_code",
            "node",
            "service",
            "server",
            "client",
            "cluster",
            "discovery",
            "link",
            "hub",
            "protocol",
            "store",
            "tls",
            "share",
            "history",
            "edit",
            "doc_id",
            "host",
        ],
    ),
];

/// Names the crate root re-exports, and the layer each comes from.
const ROOT_REEXPORTS: &[(&str, &str)] = &[("DocId", "doc_id"), ("Hub", "hub"), ("Document", "hub")];

fn allowed(layer: &str) -> Option<&'static [&'static str]> {
    LAYERS.iter().find(|(l, _)| *l == layer).map(|(_, a)| *a)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/` (`server/repo_socket/mod.rs` →
/// `["server", "repo_socket"]`, `lib.rs` → `[]`).
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The line without a trailing `//` comment (string literals holding `//`
/// are rare in `use` lines and harmless here).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Top-level names of a `{a, b::c, d::{e}}` group starting right after `{`.
fn group_heads(rest: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut current, mut at_head) = (0usize, String::new(), true);
    for c in rest.chars() {
        match c {
            '{' => {
                depth += 1;
                at_head = false;
            }
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(std::mem::take(&mut current));
                at_head = true;
            }
            ':' => at_head = false,
            c if at_head && depth == 0 && (c.is_alphanumeric() || c == '_') => current.push(c),
            _ => {}
        }
    }
    heads.push(current);
    heads.into_iter().filter(|h| !h.is_empty()).collect()
}

/// The first identifier of `rest`, or the heads of a `{…}` group.
fn targets(rest: &str) -> Vec<String> {
    if let Some(group) = rest.strip_prefix('{') {
        return group_heads(group);
    }
    let ident: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if ident.is_empty() {
        Vec::new()
    } else {
        vec![ident]
    }
}

/// The layer a root-level name belongs to (`None`: the root itself).
fn layer_of(name: &str) -> Option<String> {
    if let Some((_, layer)) = ROOT_REEXPORTS.iter().find(|(n, _)| *n == name) {
        return Some((*layer).to_owned());
    }
    if name.chars().next().is_some_and(char::is_uppercase) {
        return None; // a root item such as `VERSION`
    }
    Some(name.to_owned())
}

/// Every layer-crossing import of the sources in `src`, as
/// `file:line: layer → other`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let module = module_path(relative);
        let Some(layer) = module.first().cloned() else {
            continue; // lib.rs declares the layers
        };
        let Some(may_use) = allowed(&layer) else {
            if layer != "bin" {
                found.push(format!(
                    "{}: the layer {layer:?} is not in the table (tests/architecture.rs, ARCHITECTURE.md)",
                    relative.display()
                ));
            }
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        let mut in_block_comment = false;
        let mut test_attr = false;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim_start();
            if in_block_comment {
                in_block_comment = !line.contains("*/");
                continue;
            }
            if line.starts_with("/*") {
                in_block_comment = !line.contains("*/");
                continue;
            }
            if line.starts_with("#[cfg(test)]") {
                test_attr = true;
                continue;
            }
            if test_attr && line.starts_with("mod ") {
                break; // the file's tests
            }
            test_attr = false;
            let code = code_of(line);
            let mut reached: Vec<String> = Vec::new();
            for (i, _) in code.match_indices("crate::") {
                let before = code[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue; // e.g. `$crate::`, `other_crate::`
                }
                reached.extend(
                    targets(&code[i + "crate::".len()..])
                        .iter()
                        .filter_map(|t| layer_of(t)),
                );
            }
            for (i, _) in code.match_indices("super::") {
                let before = code[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue; // counted from the first `super::`
                }
                let mut rest = &code[i..];
                let mut climbs = 0;
                while let Some(r) = rest.strip_prefix("super::") {
                    climbs += 1;
                    rest = r;
                }
                if climbs >= module.len() {
                    reached.extend(targets(rest).iter().filter_map(|t| layer_of(t)));
                }
            }
            for target in reached {
                if target != layer && !may_use.contains(&target.as_str()) {
                    found.push(format!(
                        "{}:{}: {layer} uses {target}, a layer it may not use: {}",
                        relative.display(),
                        n + 1,
                        raw.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports against the layer map of ARCHITECTURE.md:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_an_upward_import_and_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("hub")).unwrap();
    std::fs::create_dir_all(src.join("server/deep")).unwrap();
    std::fs::write(
        src.join("hub/mod.rs"),
        "//! [`crate::service`] in a comment is fine.\nuse crate::store::Store;\nuse crate::{protocol::Line, service::Service};\n",
    )
    .unwrap();
    std::fs::write(
        src.join("server/deep/mod.rs"),
        "use super::super::node::Node;\nuse super::other;\nuse crate::DocId;\n#[cfg(test)]\nmod tests {\n    use crate::node::Node;\n}\n",
    )
    .unwrap();
    let found = violations(src);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("hub/mod.rs:3: hub uses service"),
        "{}",
        found[0]
    );
    assert!(
        found[1].starts_with("server/deep/mod.rs:1: server uses node"),
        "{}",
        found[1]
    );
}
