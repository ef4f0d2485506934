//! What an app was asked to open from outside: a `tandem://` link or an
//! `.automerge` file on its command line (the desktop app's own start, or a
//! second launch handed over to it). Files are imported here; links go to
//! the UI, which opens them like "Open from server…". Requests wait in
//! [`Launches`] until the UI takes them.

pub(crate) mod link;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use super::Service;
/// The extension of the files the app opens.
pub const EXTENSION: &str = "automerge";

/// One thing the app was asked to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LaunchRequest {
    /// Open a document from a server, like "Open from server…".
    OpenLink {
        /// The document's URL.
        url: String,
        /// The certificate fingerprint to pin, if the link has one.
        fingerprint: Option<String>,
    },
    /// A file was imported as document `id`: show it.
    Imported {
        /// The new document's id.
        id: String,
        /// The file it came from.
        path: String,
    },
    /// An argument that could not be opened, and why.
    Failed {
        /// What to tell the user.
        message: String,
    },
}

/// The requests the UI has not taken yet.
#[derive(Debug, Default)]
pub struct Launches {
    pending: Mutex<Vec<LaunchRequest>>,
}

impl Launches {
    /// Queues requests for the UI.
    pub fn push(&self, requests: Vec<LaunchRequest>) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(requests);
    }

    /// The requests waiting (each is given once).
    pub fn take(&self) -> Vec<LaunchRequest> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What one command-line argument asks for, before anything is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Argument {
    /// A `tandem://` link.
    Link(link::TandemLink),
    /// An `.automerge` file.
    File(PathBuf),
    /// Something that looked like either but cannot be opened, and why.
    Bad(String),
}

/// Sorts the arguments (without the program name): `tandem:` links,
/// `.automerge` files (relative to `cwd`) and `file://` URLs of them.
/// Options (`-…`) and anything else are ignored.
pub fn classify<S: AsRef<str>>(args: impl IntoIterator<Item = S>, cwd: &Path) -> Vec<Argument> {
    let mut out = Vec::new();
    for arg in args {
        let arg = arg.as_ref().trim();
        if arg.is_empty() || arg.starts_with('-') {
            continue;
        }
        if arg.len() >= 7 && arg[..7].eq_ignore_ascii_case("tandem:") {
            out.push(match link::parse(arg) {
                Ok(l) => Argument::Link(l),
                Err(e) => Argument::Bad(e.to_string()),
            });
            continue;
        }
        let path = match url::Url::parse(arg) {
            Ok(u) if u.scheme() == "file" => match u.to_file_path() {
                Ok(p) => p,
                Err(()) => {
                    out.push(Argument::Bad(format!(
                        "cannot open {arg}: not a local file"
                    )));
                    continue;
                }
            },
            _ => PathBuf::from(arg),
        };
        let is_doc = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(EXTENSION));
        if is_doc {
            out.push(Argument::File(cwd.join(path)));
        } else {
            tracing::debug!(%arg, "ignoring a launch argument that is neither a link nor an .automerge file");
        }
    }
    out
}

/// Imports the files into `service` (`None`: still starting) and says what
/// the UI should show for each argument.
pub fn resolve(service: Option<&Service>, args: Vec<Argument>) -> Vec<LaunchRequest> {
    args.into_iter()
        .map(|arg| match arg {
            Argument::Link(l) => LaunchRequest::OpenLink {
                url: l.url,
                fingerprint: l.fingerprint,
            },
            Argument::Bad(message) => LaunchRequest::Failed { message },
            Argument::File(path) => import_file(service, &path),
        })
        .collect()
}

fn import_file(service: Option<&Service>, path: &Path) -> LaunchRequest {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return LaunchRequest::Failed {
                message: format!("cannot read {shown}: {e}"),
            }
        }
    };
    let Some(service) = service else {
        return LaunchRequest::Failed {
            message: format!("cannot import {shown}: Tandem is still starting"),
        };
    };
    match service.import_doc(&bytes) {
        Ok(id) => {
            tracing::info!(path = %shown, %id, "imported a file the app was asked to open");
            LaunchRequest::Imported {
                id: id.to_string(),
                path: shown,
            }
        }
        Err(e) => LaunchRequest::Failed {
            message: format!("cannot import {shown}: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_links_files_and_noise() {
        let cwd = Path::new("/home/u");
        let got = classify(
            [
                "--automation",
                "tandem://open?url=http%3A%2F%2F127.0.0.1%3A7450%2Fabc&fp=AB",
                "notes/a.automerge",
                "/tmp/B.AUTOMERGE",
                "file:///tmp/c%20d.automerge",
                "README.md",
                "tandem://open",
            ],
            cwd,
        );
        assert_eq!(
            got,
            vec![
                Argument::Link(link::TandemLink {
                    url: "http://127.0.0.1:7450/abc".into(),
                    fingerprint: Some("AB".into()),
                }),
                Argument::File(PathBuf::from("/home/u/notes/a.automerge")),
                Argument::File(PathBuf::from("/tmp/B.AUTOMERGE")),
                Argument::File(PathBuf::from("/tmp/c d.automerge")),
                Argument::Bad(link::LinkError::MissingUrl.to_string()),
            ]
        );
    }

    #[test]
    fn unreadable_files_say_why_without_a_core() {
        let got = resolve(
            None,
            vec![Argument::File(PathBuf::from("/nope/x.automerge"))],
        );
        assert!(
            matches!(&got[..], [LaunchRequest::Failed { message }] if message.contains("/nope/x.automerge")),
            "{got:?}"
        );
    }

    #[test]
    fn requests_are_taken_once() {
        let l = Launches::default();
        l.push(vec![LaunchRequest::Failed {
            message: "x".into(),
        }]);
        assert_eq!(l.take().len(), 1);
        assert!(l.take().is_empty());
    }

    #[test]
    fn serializes_for_the_ui() {
        let r = LaunchRequest::OpenLink {
            url: "http://h/x".into(),
            fingerprint: None,
        };
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            serde_json::json!({"kind": "open-link", "url": "http://h/x", "fingerprint": null})
        );
    }
}
