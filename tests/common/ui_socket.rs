//! The browser UI's socket (`/_ws/{doc}`) spoken by hand: sync lines in
//! WebSocket text frames, for tests that play the UI.

use automerge::sync::SyncDoc;
use base64::Engine as _;
use tokio_tungstenite::tungstenite::Message;

/// A sync frame from the UI's document, if it has anything to say.
pub fn sync_frame(
    doc: &automerge::Automerge,
    state: &mut automerge::sync::State,
) -> Option<Message> {
    let msg = doc.generate_sync_message(state)?;
    let data = base64::engine::general_purpose::STANDARD.encode(msg.encode());
    Some(Message::Text(
        format!("{{\"event\":\"sync\",\"data\":\"{data}\"}}").into(),
    ))
}

/// Applies a frame's line to the UI's document when it is a sync line.
pub fn apply_frame(doc: &mut automerge::Automerge, state: &mut automerge::sync::State, text: &str) {
    let line: serde_json::Value = serde_json::from_str(text).unwrap();
    if line["event"] != "sync" {
        return;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line["data"].as_str().unwrap())
        .unwrap();
    doc.receive_sync_message(state, automerge::sync::Message::decode(&bytes).unwrap())
        .unwrap();
}
