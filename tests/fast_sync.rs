//! Live sync built from the document's log of recent changes (issue 8): a
//! server and several clients edit one text at once while their messages
//! are delivered late, batched and interleaved; every side must end with
//! the same document, nothing unacknowledged, everything stored — and most
//! messages must have been built from the log, not by automerge.

use std::collections::VecDeque;
use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use bytes::Bytes;
use tandem::hub::{Document, Hub};
use tandem::protocol::SyncSession;
use tandem::store::{MemoryStore, Store};
use tandem::DocId;

/// A small deterministic random source (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Side {
    store: Arc<MemoryStore>,
    _hub: Arc<Hub>,
    doc: Arc<Document>,
}

fn side(id: &DocId) -> Side {
    let store = Arc::new(MemoryStore::new());
    let hub = Hub::new(Arc::clone(&store) as Arc<dyn Store>);
    let doc = hub.open(id).unwrap();
    Side {
        store,
        _hub: hub,
        doc,
    }
}

/// One client, its session with the server, the server's session with it,
/// and the messages in flight both ways.
struct Client {
    side: Side,
    session: SyncSession,
    server_session: SyncSession,
    to_server: VecDeque<Bytes>,
    to_client: VecDeque<Bytes>,
}

/// Applies up to `most` of the messages waiting in `queue` to `doc`, in one batch.
fn deliver(doc: &Document, session: &mut SyncSession, queue: &mut VecDeque<Bytes>, most: usize) {
    let n = most.min(queue.len());
    let payloads: Vec<Vec<u8>> = queue.drain(..n).map(|b| b.to_vec()).collect();
    if !payloads.is_empty() {
        doc.apply_payloads(session, payloads).unwrap();
    }
}

struct World {
    server: Side,
    clients: Vec<Client>,
    sent: u64,
}

impl World {
    fn new(id: &DocId, clients: usize) -> Self {
        let server = side(id);
        server
            .doc
            .change(|tx| tx.put_object(ROOT, "text", ObjType::Text))
            .unwrap();
        let clients = (0..clients)
            .map(|_| Client {
                side: side(id),
                session: SyncSession::new(),
                server_session: SyncSession::new(),
                to_server: VecDeque::new(),
                to_client: VecDeque::new(),
            })
            .collect();
        Self {
            server,
            clients,
            sent: 0,
        }
    }

    fn edit(doc: &Document, rng: &mut Rng, tag: &str) {
        let Some(text) = doc.read(|d| d.get(ROOT, "text").unwrap().map(|(_, id)| id)) else {
            return;
        };
        let len = doc.read(|d| d.length(&text)) as u64;
        let at = rng.below(len + 1) as usize;
        let value = rng.below(1000) as i64;
        doc.change(|tx| {
            tx.splice_text(&text, at, 0, "ab")?;
            tx.put(ROOT, tag, value)
        })
        .unwrap();
    }

    fn client_sends(&mut self, i: usize) {
        let c = &mut self.clients[i];
        let out = c.side.doc.pending_messages(&mut c.session);
        self.sent += out.len() as u64;
        c.to_server.extend(out);
    }

    fn server_sends(&mut self, i: usize) {
        let c = &mut self.clients[i];
        let out = self.server.doc.pending_messages(&mut c.server_session);
        self.sent += out.len() as u64;
        c.to_client.extend(out);
    }

    fn deliver_to_server(&mut self, i: usize, most: usize) {
        let c = &mut self.clients[i];
        deliver(
            &self.server.doc,
            &mut c.server_session,
            &mut c.to_server,
            most,
        );
    }

    fn deliver_to_client(&mut self, i: usize, most: usize) {
        let c = &mut self.clients[i];
        deliver(&c.side.doc, &mut c.session, &mut c.to_client, most);
    }

    /// Trades messages until nobody has anything to say.
    fn settle(&mut self) {
        for _ in 0..100 {
            let before = self.sent;
            for i in 0..self.clients.len() {
                self.client_sends(i);
                self.deliver_to_server(i, usize::MAX);
                self.server_sends(i);
                self.deliver_to_client(i, usize::MAX);
            }
            if self.sent == before {
                return;
            }
        }
        panic!("did not settle in 100 rounds");
    }

    fn built_from_log(&self) -> u64 {
        self.clients
            .iter()
            .map(|c| c.session.messages_from_log() + c.server_session.messages_from_log())
            .sum()
    }
}

#[test]
fn concurrent_editors_converge_with_late_batched_delivery_mostly_from_the_log() {
    let id = DocId::parse("fast-sync").unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut world = World::new(&id, 5);
    world.settle();
    let n = world.clients.len() as u64;
    for step in 0..4_000 {
        let i = rng.below(n) as usize;
        match rng.below(12) {
            0..=2 => World::edit(&world.clients[i].side.doc, &mut rng, &format!("c{i}")),
            3 if step % 7 == 0 => World::edit(&world.server.doc, &mut rng, "server"),
            4 | 5 => world.client_sends(i),
            6 | 7 => world.server_sends(i),
            8 | 9 => {
                let most = 1 + rng.below(3) as usize;
                world.deliver_to_server(i, most);
            }
            _ => {
                let most = 1 + rng.below(3) as usize;
                world.deliver_to_client(i, most);
            }
        }
    }
    world.settle();

    let heads = world.server.doc.heads();
    let json = world.server.doc.to_json();
    for (i, c) in world.clients.iter().enumerate() {
        assert_eq!(
            c.side.doc.heads(),
            heads,
            "client {i} has the server's heads"
        );
        assert_eq!(
            c.side.doc.to_json(),
            json,
            "client {i} has the same document"
        );
        assert_eq!(
            c.session.unacknowledged(),
            0,
            "client {i}: all acknowledged"
        );
        assert_eq!(
            c.server_session.unacknowledged(),
            0,
            "server→{i}: all acknowledged"
        );
        let stored = c.side.store.load(&id).unwrap().unwrap();
        let reloaded = automerge::Automerge::load(&stored).unwrap();
        assert_eq!(
            reloaded.get_heads(),
            heads,
            "client {i} stored every change"
        );
    }
    let stored = world.server.store.load(&id).unwrap().unwrap();
    let reloaded = automerge::Automerge::load(&stored).unwrap();
    assert_eq!(
        reloaded.get_heads(),
        heads,
        "the server stored every change"
    );
    let text_len = world
        .server
        .doc
        .read(|d| d.length(&d.get(ROOT, "text").unwrap().unwrap().1));
    assert!(
        text_len > 1_000,
        "the editors wrote ({text_len} characters)"
    );
    let from_log = world.built_from_log();
    assert!(
        from_log * 2 > world.sent,
        "most messages come from the log: {from_log} of {}",
        world.sent
    );
}

#[test]
fn a_client_that_comes_back_with_an_older_copy_is_caught_up() {
    // A client syncs, goes away, the others keep editing; it returns with a
    // fresh session (a reconnect) and must get everything it missed, and
    // the one that stayed keeps being served from the log.
    let id = DocId::parse("fast-sync-return").unwrap();
    let mut rng = Rng(7);
    let mut world = World::new(&id, 2);
    world.settle();
    for _ in 0..50 {
        World::edit(&world.clients[0].side.doc, &mut rng, "c0");
        world.client_sends(0);
        world.deliver_to_server(0, usize::MAX);
        world.server_sends(0);
        world.deliver_to_client(0, usize::MAX);
    }
    let away = &mut world.clients[1];
    away.session = SyncSession::new();
    away.server_session = SyncSession::new();
    away.to_client.clear();
    away.to_server.clear();
    World::edit(&world.clients[1].side.doc, &mut rng, "c1");
    world.settle();
    let heads = world.server.doc.heads();
    for c in &world.clients {
        assert_eq!(c.side.doc.heads(), heads);
    }
    assert!(world.clients[0].server_session.messages_from_log() > 0);
}
