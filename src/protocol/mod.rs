//! The ndjson sync protocol, without I/O: the line codec ([`line`]), a
//! streaming line reader with a size limit ([`reader`]), the per-connection
//! sync session with the client's termination checks ([`session`]), the
//! pacing of messages on a busy document ([`pacer`]) and the bounds checked on
//! Automerge data before Automerge inflates it ([`guard`]).

pub mod guard;
pub mod line;
pub mod pacer;
pub mod reader;
pub mod session;

pub use guard::{GuardError, Limits};
pub use line::{Event, LineError};
pub use pacer::Pacer;
pub use reader::{EventReader, ReadBudget, ReadError, DEFAULT_MAX_LINE};
pub use session::{SplitError, SyncSession, Until, FOREIGN_MAX_LINE};

/// The media type of request and response bodies.
pub const NDJSON: &str = "application/x-ndjson";
/// The full `Content-Type` value Tandem sends.
pub const NDJSON_UTF8: &str = "application/x-ndjson; charset=utf-8";
