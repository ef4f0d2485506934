//! Who is in a document, as the server sees it from the presence messages
//! that cross its ephemeral bus (docs/presence.md): the payload
//! `{"t":"presence","v":1,"seq":…,"session":…,"user":{…},…}` announces a
//! session, `{"t":"leave",…}` ends it, and a session silent for
//! [`EXPIRE`] has vanished.
//!
//! The table has no clock of its own ([`Presence::receive`] and
//! [`Presence::list`] take `now`), so the join/leave/vanish timings are
//! tested exactly. The server uses it to list who is here
//! (`GET /_docs/{id}/presence`) and to say goodbye for the sessions that
//! came through a connection that ended ([`Presence::gone_with`]), so a
//! closed tab or a killed client is gone at once rather than after
//! [`EXPIRE`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A session silent for this long has vanished.
pub const EXPIRE: Duration = Duration::from_secs(15);

/// The most sessions remembered per document (a flood is capped).
const MAX_SESSIONS: usize = 1024;

/// A user as presence messages name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PresenceUser {
    /// Stable per install.
    pub id: String,
    /// The display name.
    pub name: String,
    /// A CSS colour.
    pub color: String,
}

/// One session in the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Member {
    /// The session's id (one open document view).
    pub session: String,
    /// Who.
    pub user: PresenceUser,
    /// On what ("Chromium on Linux", "Tandem desktop").
    pub device: String,
    /// Since when (ms since the epoch, the sender's clock).
    pub since: u64,
    /// `active` or `idle`.
    pub state: String,
    /// The relaying connection (`from`).
    pub from: String,
    /// Milliseconds since it was last heard.
    pub silent_ms: u64,
}

#[derive(Deserialize)]
struct Payload {
    t: String,
    v: u32,
    seq: u64,
    session: String,
    #[serde(default)]
    user: Option<PresenceUser>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    since: Option<u64>,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Debug)]
struct Entry {
    member: Member,
    seq: u64,
    heard: Instant,
}

/// The presence table of one document.
#[derive(Debug, Default)]
pub struct Presence {
    sessions: HashMap<String, Entry>,
    /// Sessions that said goodbye: their last `seq`, so a late message from
    /// before the goodbye does not bring them back.
    left: HashMap<String, (u64, Instant)>,
}

impl Presence {
    /// Takes one ephemeral payload relayed from `from`; anything that is not
    /// a presence message (other uses of the channel) is ignored.
    pub fn receive(&mut self, data: &[u8], from: &str, now: Instant) {
        let Ok(p) = serde_json::from_slice::<Payload>(data) else {
            return;
        };
        let last = self
            .sessions
            .get(&p.session)
            .map(|e| e.seq)
            .or_else(|| self.left.get(&p.session).map(|(seq, _)| *seq));
        if p.v != 1 || last.is_some_and(|last| p.seq <= last) {
            return;
        }
        match (p.t.as_str(), p.user) {
            ("leave", _) => {
                self.sessions.remove(&p.session);
                self.expire(now);
                if self.left.len() < MAX_SESSIONS {
                    self.left.insert(p.session, (p.seq, now));
                }
            }
            ("presence", Some(user)) => {
                if !self.sessions.contains_key(&p.session) {
                    self.expire(now);
                    if self.sessions.len() >= MAX_SESSIONS {
                        return;
                    }
                }
                let member = Member {
                    session: p.session.clone(),
                    user,
                    device: p.device.unwrap_or_default(),
                    since: p.since.unwrap_or_default(),
                    state: p.state.unwrap_or_else(|| "active".into()),
                    from: from.to_owned(),
                    silent_ms: 0,
                };
                self.sessions.insert(
                    p.session,
                    Entry {
                        member,
                        seq: p.seq,
                        heard: now,
                    },
                );
            }
            _ => {}
        }
    }

    /// Drops sessions silent for [`EXPIRE`].
    fn expire(&mut self, now: Instant) {
        self.sessions
            .retain(|_, e| now.saturating_duration_since(e.heard) < EXPIRE);
        self.left
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < EXPIRE);
    }

    /// Everyone here at `now`, oldest first.
    pub fn list(&mut self, now: Instant) -> Vec<Member> {
        self.expire(now);
        let mut members: Vec<Member> = self
            .sessions
            .values()
            .map(|e| Member {
                silent_ms: u64::try_from(now.saturating_duration_since(e.heard).as_millis())
                    .unwrap_or(u64::MAX),
                ..e.member.clone()
            })
            .collect();
        members.sort_by(|a, b| (a.since, &a.session).cmp(&(b.since, &b.session)));
        members
    }

    /// The connection `from` ended: removes the sessions that came through
    /// it (its own, and those it forwarded, `from/…`) and returns the
    /// goodbye payloads to relay on their behalf.
    pub fn gone_with(&mut self, from: &str) -> Vec<Vec<u8>> {
        let nested = format!("{from}/");
        let gone: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.member.from == from || e.member.from.starts_with(&nested))
            .map(|(session, _)| session.clone())
            .collect();
        gone.into_iter()
            .filter_map(|session| {
                let entry = self.sessions.remove(&session)?;
                if self.left.len() < MAX_SESSIONS {
                    self.left
                        .insert(session.clone(), (entry.seq + 1, entry.heard));
                }
                let leave = serde_json::json!({
                    "t": "leave", "v": 1, "seq": entry.seq + 1, "session": session,
                });
                Some(leave.to_string().into_bytes())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(session: &str, seq: u64) -> Vec<u8> {
        serde_json::json!({
            "t": "presence", "v": 1, "seq": seq, "session": session,
            "user": {"id": "u1", "name": "Ada", "color": "#d9480f"},
            "device": "Chromium on Linux", "since": 1000, "state": "active",
            "actor": "aa", "cursor": null,
        })
        .to_string()
        .into_bytes()
    }

    fn leave(session: &str, seq: u64) -> Vec<u8> {
        format!(r#"{{"t":"leave","v":1,"seq":{seq},"session":"{session}"}}"#).into_bytes()
    }

    #[test]
    fn join_then_leave_is_gone_at_once() {
        let t0 = Instant::now();
        let mut p = Presence::default();
        p.receive(&hello("s1", 1), "c1", t0);
        let here = p.list(t0);
        assert_eq!(here.len(), 1);
        assert_eq!(
            (here[0].user.name.as_str(), here[0].from.as_str()),
            ("Ada", "c1")
        );
        p.receive(&leave("s1", 2), "c1", t0 + Duration::from_millis(1));
        assert!(p.list(t0 + Duration::from_millis(1)).is_empty());
        // A late heartbeat from before the goodbye does not bring it back…
        p.receive(&hello("s1", 1), "c1", t0 + Duration::from_millis(2));
        assert!(p.list(t0 + Duration::from_millis(2)).is_empty());
    }

    #[test]
    fn a_silent_session_vanishes_after_the_expiry_and_not_before() {
        let t0 = Instant::now();
        let mut p = Presence::default();
        p.receive(&hello("s1", 1), "c1", t0);
        let almost = t0 + EXPIRE - Duration::from_millis(1);
        assert_eq!(p.list(almost).len(), 1);
        assert_eq!(p.list(almost)[0].silent_ms, 14_999);
        // A heartbeat keeps it.
        p.receive(&hello("s1", 2), "c1", t0 + Duration::from_secs(5));
        assert_eq!(p.list(t0 + EXPIRE).len(), 1);
        assert!(p.list(t0 + Duration::from_secs(5) + EXPIRE).is_empty());
    }

    #[test]
    fn a_connection_that_ends_takes_its_sessions_with_it() {
        let t0 = Instant::now();
        let mut p = Presence::default();
        p.receive(&hello("direct", 3), "c1", t0);
        p.receive(&hello("forwarded", 1), "c1/c9", t0);
        p.receive(&hello("other", 1), "c10", t0);
        let mut goodbyes: Vec<serde_json::Value> = p
            .gone_with("c1")
            .into_iter()
            .map(|b| serde_json::from_slice(&b).unwrap())
            .collect();
        goodbyes.sort_by_key(|g| g["session"].as_str().unwrap().to_owned());
        assert_eq!(
            goodbyes,
            [
                serde_json::json!({"t": "leave", "v": 1, "seq": 4, "session": "direct"}),
                serde_json::json!({"t": "leave", "v": 1, "seq": 2, "session": "forwarded"}),
            ]
        );
        let left: Vec<_> = p.list(t0).into_iter().map(|m| m.session).collect();
        assert_eq!(left, ["other"]);
    }

    #[test]
    fn other_payloads_are_not_presence() {
        let mut p = Presence::default();
        for junk in [
            &b"not json"[..],
            b"{}",
            br#"{"t":"presence","v":2,"seq":1,"session":"x"}"#,
        ] {
            p.receive(junk, "c1", Instant::now());
        }
        assert!(p.list(Instant::now()).is_empty());
    }
}
