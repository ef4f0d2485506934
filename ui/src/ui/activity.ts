// The sync activity view (as Syncthing shows folders and devices): every
// connection in and out with its state, traffic and last sync, and per open
// document a small live plot of changes/s and bytes/s over the last minutes.
// Refreshed every two seconds while open.
import type { ActivityReport, Backend } from "../backend/types";
import { ago, latest, sparkline } from "../model/activity";
import { formatSize } from "../model/format";
import { displayTitle } from "../model/title";
import { openDialog } from "./dialogs";
import { h } from "./dom";

const REFRESH_MS = 2000;
const PLOT_W = 160;
const PLOT_H = 28;

function plot(values: number[], label: string): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 -2 ${PLOT_W} ${PLOT_H + 4}`); // room for the stroke at 0 and at the top
  svg.setAttribute("width", String(PLOT_W));
  svg.setAttribute("height", String(PLOT_H));
  svg.setAttribute("class", "activity-plot");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", sparkline(values, PLOT_W, PLOT_H));
  svg.append(line);
  return svg;
}

function render(report: ActivityReport, now: number): HTMLElement[] {
  const titles = new Map(report.docs.map((d) => [d.id, displayTitle(d.title)]));
  const out = h(
    "table",
    { class: "activity-table", testid: "activity-outgoing" },
    h("caption", null, "Outgoing (servers this device syncs with)"),
    h("thead", null, h("tr", null, ...["Document", "Server", "State", "Last synced", "↓ in", "↑ out"].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      ...report.remotes.map((r) =>
        h(
          "tr",
          { testid: "activity-remote", "data-state": r.state },
          h("td", { title: r.doc_id }, titles.get(r.doc_id) ?? r.doc_id),
          h("td", null, r.url),
          h("td", null, r.state === "live" && r.in_sync ? "in sync" : r.state),
          h("td", null, ago(r.last_synced_ms, now)),
          h("td", null, formatSize(r.bytes_in ?? 0)),
          h("td", null, formatSize(r.bytes_out ?? 0)),
        ),
      ),
    ),
  );
  if (report.remotes.length === 0) out.append(h("tbody", null, h("tr", null, h("td", { colspan: "6", class: "muted" }, "None."))));
  const incoming = report.docs.flatMap((d) => d.incoming.map((c) => ({ d, c })));
  const inn = h(
    "table",
    { class: "activity-table", testid: "activity-incoming" },
    h("caption", null, "Incoming (peers, programs and pages connected here)"),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ...["Document", "Peer", "User", "Protocol", "Connected", "Last message", "↓ in", "↑ out", "Behind"].map((t) => h("th", null, t)),
      ),
    ),
    h(
      "tbody",
      null,
      ...incoming.map(({ d, c }) =>
        h(
          "tr",
          { testid: "activity-connection" },
          h("td", null, displayTitle(d.title)),
          h("td", null, c.peer),
          h("td", null, c.user ?? "—"),
          h("td", null, c.protocol),
          h("td", null, ago(c.since_ms, now)),
          h("td", null, ago(c.last_message_ms, now)),
          h("td", null, formatSize(c.bytes_in)),
          h("td", null, formatSize(c.bytes_out)),
          h("td", null, c.lag_changes === 0 ? "up to date" : `${c.lag_changes} changes`),
        ),
      ),
    ),
  );
  const docs = h(
    "table",
    { class: "activity-table", testid: "activity-docs" },
    h("caption", null, "Open documents (last five minutes)"),
    h("thead", null, h("tr", null, ...["Document", "Changes/s", "", "Bytes/s", "", "Total"].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      ...report.docs.map((d) => {
        const now = latest(d.rates);
        return h(
          "tr",
          { testid: "activity-doc", "data-doc-id": d.id },
          h("td", null, displayTitle(d.title)),
          h("td", null, now.changes_per_s.toFixed(1)),
          h(
            "td",
            null,
            plot(
              d.rates.map((r) => r.changes_per_s),
              `changes per second of ${displayTitle(d.title)}`,
            ),
          ),
          h("td", null, `${formatSize(now.bytes_per_s)}/s`),
          h(
            "td",
            null,
            plot(
              d.rates.map((r) => r.bytes_per_s),
              `bytes per second of ${displayTitle(d.title)}`,
            ),
          ),
          h("td", null, `${d.totals.changes} changes, ${formatSize(d.totals.bytes)}`),
        );
      }),
    ),
  );
  return [out, inn, docs];
}

/** Opens the view; it refreshes itself until closed. */
export async function showActivity(backend: Backend): Promise<void> {
  const body = h("div", { class: "activity-view", testid: "activity-view", "aria-live": "polite" }, h("p", null, "Loading…"));
  let stopped = false;
  const refresh = async () => {
    try {
      const report = await backend.activity();
      if (!stopped) body.replaceChildren(...render(report, Date.now()));
    } catch (e) {
      if (!stopped) body.replaceChildren(h("p", { class: "dialog-error" }, `Could not load the activity: ${(e as Error).message ?? e}`));
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  try {
    await openDialog({ title: "Sync activity", body: [body], okLabel: "Close", hideCancel: true, testid: "activity-dialog" });
  } finally {
    stopped = true;
    clearInterval(timer);
  }
}
