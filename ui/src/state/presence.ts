// This page's presence (no DOM): the user's profile (name, colour; kept in
// localStorage), and one session per open document — announce, heartbeat,
// cursor, goodbye — over the peer's ephemeral messages, with the table of the
// others (../model/presence.ts). The views are in ../ui/presence.ts.
import { A } from "../automerge";
import type { Prop } from "../model/path";
import type { SyncPeer } from "../model/peer";
import {
  authorMessage,
  authorOf,
  type CursorRange,
  decodePresence,
  encodePresence,
  HEARTBEAT_MS,
  IDLE_MS,
  loadProfile,
  type Member,
  type PresenceMessage,
  PresenceTable,
  type Profile,
  randomId,
} from "../model/presence";

/** The most cursor updates sent per second (the server allows 30 messages). */
const CURSOR_INTERVAL_MS = 40;

const sessions = new WeakMap<SyncPeer<unknown>, PresenceSession>();

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

let profile: Profile | null = null;

/** This install's profile (stored in the browser / webview). */
export function myProfile(): Profile {
  profile ??= loadProfile(storage());
  return profile;
}

/** Renames the user; open sessions announce the new name. */
export function setMyName(name: string): void {
  const p = { ...myProfile(), name: name.trim().slice(0, 80) || myProfile().name };
  profile = p;
  try {
    storage()?.setItem("tandem.profile", JSON.stringify(p));
  } catch {
    /* kept for this page */
  }
  for (const cb of profileListeners) cb();
}
/** Called when the profile changes (the bars re-render). */
export const profileListeners = new Set<() => void>();

/**
 * Names a profile that still has its made-up "Guest …" name after `name`
 * (the OS user in the desktop app, a named token's user in a browser); a
 * name the user chose is kept.
 */
export function adoptDefaultName(name: string | null | undefined): void {
  const p = myProfile();
  if (name?.trim() && p.name === `Guest ${p.id.slice(0, 4)}`) setMyName(name);
}

function deviceName(): string {
  const ua = globalThis.navigator?.userAgent ?? "";
  const app =
    "__TAURI_INTERNALS__" in globalThis
      ? "Tandem desktop"
      : /Firefox\//.test(ua)
        ? "Firefox"
        : /Chrom/.test(ua)
          ? "Chromium"
          : /Safari\//.test(ua)
            ? "Safari"
            : "Browser";
  const os = /Linux/.test(ua) ? "Linux" : /Mac OS/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : "";
  return os ? `${app} on ${os}` : app;
}

/** Sessions in a document now: they say goodbye when the page goes away. */
const entered = new Set<PresenceSession>();
globalThis.addEventListener?.("pagehide", () => {
  for (const s of [...entered]) s.leave();
});

/** One page's presence in one document. */
export class PresenceSession {
  readonly id = randomId();
  readonly table: PresenceTable;
  private seq = 0;
  private entered = false;
  private since = 0;
  private cursor: CursorRange | null = null;
  private lastActivity = Date.now();
  private cursorTimer: ReturnType<typeof setTimeout> | null = null;
  private lastCursorSent = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private lastRemote: { actors: string[]; authors: string[] } = { actors: [], authors: [] };

  /** The session of `peer`, made on first use. */
  static of(peer: SyncPeer<unknown>): PresenceSession {
    let s = sessions.get(peer);
    if (!s) {
      s = new PresenceSession(peer);
      sessions.set(peer, s);
    }
    return s;
  }

  /** The session of `peer` if it has one (never makes one). */
  static existing(peer: SyncPeer<unknown>): PresenceSession | undefined {
    return sessions.get(peer);
  }

  private constructor(private readonly peer: SyncPeer<unknown>) {
    this.table = new PresenceTable(this.id);
    // Local changes say who made them.
    peer.author = authorMessage(myProfile());
    this.unsubscribe.push(
      peer.onEphemeral((e) => {
        const m = decodePresence(e.data);
        if (!m) return;
        const { changed, joined } = this.table.receive(m, e.from, Date.now());
        // A newcomer learns about us at once, not at our next heartbeat.
        if (joined && this.entered) this.announce();
        if (changed) this.emit();
      }),
      peer.onLink((up) => {
        if (up && this.entered) this.announce();
      }),
      peer.onChange((c) => {
        if (!c.local) this.lastRemote = authorsBetween(peer.doc(), c.before);
      }),
    );
    const onProfile = () => {
      peer.author = authorMessage(myProfile());
      if (this.entered) this.announce();
    };
    profileListeners.add(onProfile);
    this.unsubscribe.push(() => profileListeners.delete(onProfile));
    this.timer = setInterval(() => this.tick(), 1000);
  }

  /** The user opened the document: announce and keep announcing. */
  enter(): void {
    if (this.entered) return;
    this.entered = true;
    entered.add(this);
    this.since = Date.now();
    this.lastActivity = Date.now();
    this.announce();
  }

  /** The user left the document: say goodbye (others drop us at once). */
  leave(): void {
    if (!this.entered) return;
    this.entered = false;
    entered.delete(this);
    this.cursor = null;
    this.send({ t: "leave", v: 1, seq: ++this.seq, session: this.id });
  }

  /** The local selection in the text at `path` (character offsets). */
  setCursor(path: Prop[], anchor: number, head: number): void {
    this.lastActivity = Date.now();
    try {
      const doc = this.peer.doc();
      this.cursor = {
        path: [...path],
        anchor: A.getCursor(doc, [...path], anchor),
        head: A.getCursor(doc, [...path], head),
      };
    } catch {
      return; // the text is not in the document (yet)
    }
    if (!this.entered || this.cursorTimer) return;
    const wait = Math.max(0, this.lastCursorSent + CURSOR_INTERVAL_MS - Date.now());
    if (wait === 0) this.announce();
    else
      this.cursorTimer = setTimeout(() => {
        this.cursorTimer = null;
        if (this.entered) this.announce();
      }, wait);
  }

  /** Everyone else in the document. */
  members(): Member[] {
    return this.table.list();
  }

  /** Who made the last remote change, by the members' Automerge actors. */
  lastRemoteAuthor(): string | undefined {
    for (const actor of this.lastRemote.actors) {
      const name = this.table.nameOfActor(actor);
      if (name) return name;
    }
    // someone no longer here: the name their change carries
    return this.lastRemote.authors[0];
  }

  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Ends the session for good (the document was closed). */
  dispose(): void {
    this.leave();
    if (this.timer) clearInterval(this.timer);
    if (this.cursorTimer) clearTimeout(this.cursorTimer);
    for (const u of this.unsubscribe) u();
    this.listeners.clear();
    sessions.delete(this.peer);
  }

  private tick(): void {
    const now = Date.now();
    if (this.table.expire(now)) this.emit();
    if (this.entered && now - this.lastCursorSent >= HEARTBEAT_MS) this.announce();
  }

  private announce(): void {
    this.lastCursorSent = Date.now();
    let actor = "";
    try {
      actor = A.getActorId(this.peer.doc());
    } catch {
      /* a closed document */
    }
    this.send({
      t: "presence",
      v: 1,
      seq: ++this.seq,
      session: this.id,
      user: myProfile(),
      device: deviceName(),
      actor,
      since: this.since,
      state: Date.now() - this.lastActivity > IDLE_MS ? "idle" : "active",
      cursor: this.cursor,
    });
  }

  private send(m: PresenceMessage): void {
    this.peer.sendEphemeral(encodePresence(m));
  }

  private emit(): void {
    for (const cb of this.listeners) cb();
  }
}

/** The actors of the changes made since `before`, and the authors their messages name. */
function authorsBetween(doc: A.Doc<unknown>, before: A.Heads): { actors: string[]; authors: string[] } {
  try {
    const changes = A.getChanges(A.view(doc, before), doc).map((c) => A.decodeChange(c));
    return {
      actors: [...new Set(changes.map((c) => c.actor))],
      authors: [...new Set(changes.map((c) => authorOf(c.message)).filter((n): n is string => !!n))],
    };
  } catch {
    return { actors: [], authors: [] };
  }
}
