// Presence: who is in a document, where their cursor is — carried as
// ephemeral messages (docs/presence.md), never stored in the document.
//
// Each open document view is one *session* with a random id. It announces
// itself when it enters, re-announces every HEARTBEAT_MS and whenever its
// cursor moves, and says goodbye when it leaves. A member is gone at once
// on its goodbye, and EXPIRE_MS after its last message when it vanished
// without one (a closed laptop, a dropped network).
//
// This module has no DOM and no timers of its own: the table is driven with
// explicit `now` values, so the join/leave/vanish timings are unit-tested.

/** How often a session re-announces itself. */
export const HEARTBEAT_MS = 5_000;
/** A member silent for this long has vanished. */
export const EXPIRE_MS = 15_000;
/** No local activity for this long: shown as idle. */
export const IDLE_MS = 60_000;

/** Who the user is: kept per install, editable. */
export interface Profile {
  /** Stable, random. */
  id: string;
  name: string;
  /** A CSS colour. */
  color: string;
}

/** A text selection, as Automerge cursors (stable under concurrent edits). */
export interface CursorRange {
  /** The text object's path in the document. */
  path: (string | number)[];
  anchor: string;
  head: string;
}

/** What one session announces. */
export interface PresenceState {
  session: string;
  user: Profile;
  /** What the user is on ("Firefox on Linux", "Tandem desktop"). */
  device: string;
  /** The session's Automerge actor id, to name the author of its changes. */
  actor: string;
  /** When the session entered the document (ms since the epoch, sender's clock). */
  since: number;
  state: "active" | "idle";
  cursor: CursorRange | null;
}

export type PresenceMessage = ({ t: "presence"; v: 1; seq: number } & PresenceState) | { t: "leave"; v: 1; seq: number; session: string };

/** A member of the document, as this session sees it. */
export interface Member extends PresenceState {
  /** The relaying connection's id (`from`). */
  from: string;
  /** When we last heard from it (our clock). */
  heardAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodePresence(m: PresenceMessage): Uint8Array {
  return encoder.encode(JSON.stringify(m));
}

/** Decodes a payload; null when it is not a presence message (other uses of the channel). */
export function decodePresence(data: Uint8Array): PresenceMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
  if (v === null || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  if (o.v !== 1 || typeof o.session !== "string" || typeof o.seq !== "number") return null;
  if (o.t === "leave") return { t: "leave", v: 1, seq: o.seq, session: o.session };
  if (o.t !== "presence") return null;
  const user = o.user as Record<string, unknown> | null;
  if (!user || typeof user.id !== "string" || typeof user.name !== "string" || typeof user.color !== "string") return null;
  const cursor = o.cursor as Record<string, unknown> | null | undefined;
  const validCursor =
    cursor && Array.isArray(cursor.path) && typeof cursor.anchor === "string" && typeof cursor.head === "string"
      ? { path: cursor.path as (string | number)[], anchor: cursor.anchor, head: cursor.head }
      : null;
  return {
    t: "presence",
    v: 1,
    seq: o.seq,
    session: o.session,
    user: { id: user.id, name: user.name.slice(0, 80), color: safeColor(user.color) },
    device: typeof o.device === "string" ? o.device.slice(0, 80) : "",
    actor: typeof o.actor === "string" ? o.actor : "",
    since: typeof o.since === "number" ? o.since : 0,
    state: o.state === "idle" ? "idle" : "active",
    cursor: validCursor,
  };
}

/** Only plain colours reach a style attribute. */
export function safeColor(c: string): string {
  return /^#[0-9a-fA-F]{3,8}$/.test(c) || /^hsl\(\d{1,3}(\.\d+)?,\s*\d{1,3}%,\s*\d{1,3}%\)$/.test(c) ? c : "#888";
}

/** The members of one document. */
export class PresenceTable {
  private readonly members = new Map<string, Member>();
  private readonly lastSeq = new Map<string, number>();

  constructor(private readonly ownSession: string) {}

  /** Takes one message; returns true when the table changed (or a newcomer appeared: `joined`). */
  receive(m: PresenceMessage, from: string, now: number): { changed: boolean; joined: boolean } {
    if (m.session === this.ownSession) return { changed: false, joined: false };
    const last = this.lastSeq.get(m.session);
    if (last !== undefined && m.seq <= last) return { changed: false, joined: false }; // stale or repeated
    this.lastSeq.set(m.session, m.seq);
    if (m.t === "leave") return { changed: this.members.delete(m.session), joined: false };
    const joined = !this.members.has(m.session);
    const { t: _t, v: _v, seq: _seq, ...state } = m;
    this.members.set(m.session, { ...state, from, heardAt: now });
    return { changed: true, joined };
  }

  /** Drops members silent for EXPIRE_MS; true when some were dropped. */
  expire(now: number): boolean {
    let changed = false;
    for (const [session, m] of this.members) {
      if (now - m.heardAt >= EXPIRE_MS) {
        this.members.delete(session);
        changed = true;
      }
    }
    return changed;
  }

  /** Everyone else here, oldest first. */
  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.since - b.since || a.session.localeCompare(b.session));
  }

  /** The user name of the session with this Automerge actor, if one is here. */
  nameOfActor(actor: string): string | undefined {
    for (const m of this.members.values()) if (m.actor === actor) return m.user.name;
    return undefined;
  }

  clear(): void {
    this.members.clear();
  }
}

const PALETTE = ["#d9480f", "#1c7ed6", "#2b8a3e", "#ae3ec9", "#e8590c", "#0c8599", "#c2255c", "#5f3dc4"];

/** A random id (hex). */
export function randomId(bytes = 8): string {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** A default profile: a stable id, a name, a colour from the palette. */
export function defaultProfile(name?: string): Profile {
  const id = randomId();
  const color = PALETTE[parseInt(id.slice(0, 2), 16) % PALETTE.length];
  return { id, name: name?.trim() || `Guest ${id.slice(0, 4)}`, color };
}

/** Reads a stored profile, or makes (and stores) a new one. */
export function loadProfile(storage: Pick<Storage, "getItem" | "setItem"> | null, key = "tandem.profile"): Profile {
  try {
    const raw = storage?.getItem(key);
    if (raw) {
      const p = JSON.parse(raw) as Partial<Profile>;
      if (typeof p.id === "string" && typeof p.name === "string" && typeof p.color === "string") {
        return { id: p.id, name: p.name, color: safeColor(p.color) };
      }
    }
  } catch {
    /* a broken entry is replaced */
  }
  const profile = defaultProfile();
  try {
    storage?.setItem(key, JSON.stringify(profile));
  } catch {
    /* private mode: a profile per page */
  }
  return profile;
}

/** The change message that says who made a change: `{"author":{"id","name"}}`. */
export function authorMessage(p: Pick<Profile, "id" | "name">): string {
  return JSON.stringify({ author: { id: p.id, name: p.name } });
}

/** The author a change message names, if it is one of ours. */
export function authorOf(message: string | null | undefined): string | undefined {
  if (!message?.startsWith("{")) return undefined;
  try {
    const name = (JSON.parse(message) as { author?: { name?: unknown } }).author?.name;
    return typeof name === "string" ? name : undefined;
  } catch {
    return undefined;
  }
}
