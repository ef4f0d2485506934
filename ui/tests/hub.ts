// Test helper: an in-memory "backend" that speaks the same ndjson sync lines
// as `/_ws/{id}`: one server-side doc, one SyncState per connection, changes
// relayed to every other connection. Deliveries are queued and pumped by
// `settle()` so tests control interleaving (and can drop the link).
import { A } from "../src/automerge";
import { SyncPeer, syncSchedule } from "../src/model/peer";
import { encodeSyncLine, parseLine } from "../src/model/protocol";

interface Conn {
  peer: SyncPeer<any>;
  state: A.SyncState;
  up: boolean;
}

export class Hub {
  doc: A.Doc<any>;
  private conns: Conn[] = [];
  private queue: (() => void)[] = [];

  constructor(doc: A.Doc<any> = A.init()) {
    this.doc = doc;
  }

  /** Connect a new UI peer (fresh SyncState on both sides, server speaks first). */
  connect(peer: SyncPeer<any> = new SyncPeer<any>("doc", { schedule: syncSchedule })): SyncPeer<any> {
    let conn = this.conns.find((c) => c.peer === peer);
    if (!conn) {
      conn = { peer, state: A.initSyncState(), up: true };
      this.conns.push(conn);
    }
    conn.state = A.initSyncState();
    conn.up = true;
    const c = conn;
    peer.attach({
      send: (line) => {
        if (!c.up) return false;
        this.queue.push(() => c.up && this.serverReceive(c, line));
        return true;
      },
    });
    this.serverSend(c);
    peer.connected();
    return peer;
  }

  disconnect(peer: SyncPeer<any>): void {
    const c = this.conns.find((x) => x.peer === peer);
    if (c) c.up = false;
    peer.disconnected();
  }

  /** A change made on the server side (e.g. another client, or a remote server). */
  serverChange(fn: (d: any) => void): void {
    this.doc = A.change(this.doc, fn);
    for (const c of this.conns) this.serverSend(c);
  }

  private serverReceive(c: Conn, line: string): void {
    const msg = parseLine(line);
    if (msg?.event !== "sync") throw new Error(`bad line ${line}`);
    const before = A.getHeads(this.doc);
    [this.doc, c.state] = A.receiveSyncMessage(this.doc, c.state, msg.data);
    const changed = A.getHeads(this.doc).join() !== before.join();
    this.serverSend(c);
    if (changed) for (const o of this.conns) if (o !== c) this.serverSend(o);
  }

  private serverSend(c: Conn): void {
    if (!c.up) return;
    const [s, m] = A.generateSyncMessage(this.doc, c.state);
    c.state = s;
    if (m) {
      const line = encodeSyncLine(m);
      this.queue.push(() => c.up && c.peer.receiveLine(line));
    }
  }

  /** Deliver queued messages until the network is quiet. Returns messages delivered. */
  settle(max = 10_000): number {
    let n = 0;
    while (this.queue.length > 0) {
      if (++n > max) throw new Error("sync did not converge");
      this.queue.shift()!();
    }
    return n;
  }
}

export function noteDoc(title = "Hello", body = "World"): A.Doc<any> {
  return A.from({ title, body });
}
