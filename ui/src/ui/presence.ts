// The views of presence: the bar of people in the document header and the
// dots in the sidebar's document list. The sessions themselves (and the
// user's profile) are in ../state/presence.ts.
import type { SyncPeer } from "../model/peer";
import { myProfile, PresenceSession, profileListeners, setMyName } from "../state/presence";
import { h, setText } from "./dom";

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
  const members = peer ? (PresenceSession.existing(peer)?.members() ?? []) : [];
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
