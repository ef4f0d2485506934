// Connections *into* this instance on the open document (the other
// direction of the remotes list): who, over what, since when, traffic, and
// how far behind they are. Polled while the document is open; shown only
// where the backend can tell (the owner of a server or of the desktop app).
import type { Backend, IncomingConnection } from "../backend/types";
import { formatSize } from "../model/format";
import { h, setText } from "./dom";

/** How often the list is refreshed. */
const REFRESH_MS = 2_000;

/** One line describing a connection. */
export function describeIncoming(c: IncomingConnection, now: number): string {
  const who = c.user ? `${c.user} · ` : "";
  const age = Math.max(0, Math.round((now - c.since_ms) / 1000));
  const since = age < 60 ? `${age} s` : age < 3600 ? `${Math.round(age / 60)} min` : `${Math.round(age / 3600)} h`;
  const lag = c.lag_changes === 0 ? "up to date" : `${c.lag_changes} change${c.lag_changes === 1 ? "" : "s"} behind`;
  return `${who}${c.peer} · ${c.protocol} · ${since} · ↓${formatSize(c.bytes_in)} ↑${formatSize(c.bytes_out)} · ${lag}`;
}

/** The list under the document header. */
export class IncomingList {
  readonly el: HTMLElement;
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(
    private readonly backend: Backend,
    private readonly docId: string,
  ) {
    this.el = h("ul", { class: "incoming", testid: "incoming-connections", "aria-label": "Connected into this document", hidden: true });
    if (!backend.docConnections) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
  }

  private async refresh(): Promise<void> {
    let list: IncomingConnection[];
    try {
      list = (await this.backend.docConnections?.(this.docId)) ?? [];
    } catch {
      // not the owner (403), or an older server: nothing to show
      this.destroy();
      return;
    }
    if (this.stopped) return;
    // The app's own window and this page are not "someone else".
    const others = list.filter((c) => c.peer !== "app");
    const now = Date.now();
    this.el.replaceChildren(
      ...others.map((c) => {
        const li = h("li", {
          class: "incoming-item",
          testid: "incoming",
          "data-peer": c.peer,
          title: c.heads.length ? `heads ${c.heads.map((x) => x.slice(0, 8)).join(", ")}` : "no heads yet",
        });
        setText(li, `← ${describeIncoming(c, now)}`);
        return li;
      }),
    );
    this.el.hidden = others.length === 0;
  }

  destroy(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
