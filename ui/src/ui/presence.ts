// Presence of one open document: this page's session (announce, heartbeat,
// cursor, goodbye) over the peer's ephemeral messages, the table of the
// others (../model/presence.ts), and the bar that shows them in the
// document header.
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
import { h, setText } from "./dom";

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
const profileListeners = new Set<() => void>();

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

/** The row of people in the document header: you first, then the others. */
export class PresenceBar {
  readonly el: HTMLElement;
  private readonly self: HTMLButtonElement;
  private readonly others: HTMLElement;
  private readonly off: (() => void)[] = [];

  constructor(private readonly session: PresenceSession) {
    this.self = h("button", {
      type: "button",
      class: "presence-self",
      testid: "presence-self",
      title: "You — click to change your name",
      onclick: () => {
        const name = globalThis.prompt?.("Your name, as others see it", myProfile().name);
        if (name) setMyName(name);
      },
    }) as HTMLButtonElement;
    this.others = h("ul", { class: "presence-list", testid: "presence-list", "aria-label": "People in this document" });
    this.el = h("div", { class: "presence-bar", testid: "presence-bar", "aria-live": "polite" }, this.self, this.others);
    this.off.push(session.onChange(() => this.render()));
    const onProfile = () => this.render();
    profileListeners.add(onProfile);
    this.off.push(() => profileListeners.delete(onProfile));
    this.render();
  }

  render(): void {
    const me = myProfile();
    setText(this.self, me.name);
    this.self.style.setProperty("--who", me.color);
    const items = this.session.members().map((m) => {
      const li = h(
        "li",
        {
          class: `presence-member ${m.state}`,
          testid: "presence-member",
          "data-name": m.user.name,
          title: `${m.user.name} — ${m.device || "unknown device"}${m.state === "idle" ? ", idle" : ""}, here since ${formatTime(m.since || m.heardAt)}`,
        },
        m.user.name,
      );
      li.style.setProperty("--who", m.user.color);
      return li;
    });
    this.others.replaceChildren(...items);
  }

  destroy(): void {
    for (const f of this.off) f();
    this.el.remove();
  }
}

function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * The people in a document, as small coloured dots in its sidebar entry
 * (documents whose peer is open: the current one and recently opened ones).
 */
export function sidebarPresence(li: HTMLElement, peer: SyncPeer<unknown> | undefined): void {
  const members = peer ? (sessions.get(peer)?.members() ?? []) : [];
  let el = li.querySelector<HTMLElement>(".doc-presence");
  if (members.length === 0) {
    el?.remove();
    return;
  }
  if (!el) {
    el = h("span", { class: "doc-presence", testid: "doc-presence" });
    // inside the entry's button, after its title and meta lines
    (li.querySelector(".doc-item-button") ?? li).append(el);
  }
  const names = members.map((m) => m.user.name);
  el.title = `Here now: ${names.join(", ")}`;
  el.dataset.names = names.join(",");
  el.replaceChildren(
    ...members.slice(0, 5).map((m) => {
      const dot = h("span", { class: "doc-presence-dot", "aria-hidden": "true" });
      dot.style.setProperty("--who", m.user.color);
      return dot;
    }),
    h("span", { class: "visually-hidden" }, `${names.length} here`),
  );
}
