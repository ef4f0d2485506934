// The history panel of the open document: a virtualised timeline of edit
// bursts (newest first) with a scrubber; choosing a point shows the document
// as it was there, read-only and clearly marked, with what that burst
// changed highlighted (Automerge's diff: inserted and deleted text, changed
// fields); "Changes since" (or shift-clicking a second point) marks every
// change between two points instead. "Restore this version" (or one field) writes a new change on top,
// and "Undo restore" restores the heads from before it the same way.
import type { Backend } from "../backend/types";
import {
  type Burst,
  burstSummary,
  changedPaths,
  formatTime,
  type HistoryEdit,
  type Segment,
  type Timeline,
  textSegments,
  toPatches,
  visibleRange,
} from "../model/history";
import { getAt, type Prop, pathLabel, pathToString } from "../model/path";
import type { SyncPeer } from "../model/peer";
import { h, setText } from "./dom";

/** Height of one timeline row, in px (the list is virtualised on it). */
export const ROW_HEIGHT = 52;

export interface HistoryPanelOptions {
  backend: Backend;
  docId: string;
  peer: SyncPeer<Record<string, unknown>>;
  onError(message: string): void;
  /** Show `el` (a past version) in place of the live document; `null`: back to live. */
  showVersion(el: HTMLElement | null): void;
  /** The panel was closed. */
  onClose(): void;
}

interface Marks {
  changed: Set<string>;
  inside: Set<string>;
  texts: Map<string, Segment[]>;
}

/** The history side panel of one document. */
export class HistoryPanel {
  readonly el: HTMLElement;
  private timeline: Timeline | null = null;
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly rows = new Map<number, HTMLElement>();
  private readonly scrub: HTMLInputElement;
  private readonly status: HTMLElement;
  private readonly undoBtn: HTMLButtonElement;
  private selected: number | null = null;
  private lastRestore: HistoryEdit | null = null;
  private version: HTMLElement | null = null;
  /** Bumped on each selection: late answers for older ones are dropped. */
  private ticket = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly unsubscribe: () => void;
  private frame: number | null = null;

  constructor(private readonly opts: HistoryPanelOptions) {
    this.spacer = h("div", { class: "timeline-spacer" });
    this.scroller = h(
      "div",
      { class: "timeline", testid: "timeline", role: "listbox", "aria-label": "Edit bursts, newest first", tabindex: "0" },
      this.spacer,
    );
    this.scroller.addEventListener("scroll", () => this.renderRowsSoon());
    this.scroller.addEventListener("keydown", (ev) => this.keydown(ev));
    this.scrub = h("input", {
      type: "range",
      class: "history-scrub",
      testid: "history-scrub",
      min: "0",
      max: "0",
      step: "1",
      "aria-label": "Scrub through the history",
      oninput: () => this.select(Number(this.scrub.value)),
    });
    this.status = h("p", { class: "history-status", testid: "history-status", "aria-live": "polite" }, "Loading history…");
    this.undoBtn = h(
      "button",
      { type: "button", class: "btn", testid: "undo-restore", hidden: true, onclick: () => void this.undoRestore() },
      "Undo restore",
    );
    this.el = h(
      "aside",
      { class: "history-panel", testid: "history-panel", "aria-label": "History" },
      h(
        "header",
        { class: "history-head" },
        h("h2", { class: "section-title" }, "History"),
        h("button", { type: "button", class: "btn subtle", testid: "history-live", onclick: () => this.backToLive() }, "Live"),
        h(
          "button",
          {
            type: "button",
            class: "btn icon subtle",
            testid: "history-close",
            "aria-label": "Close history",
            onclick: () => opts.onClose(),
          },
          "×",
        ),
      ),
      this.status,
      this.scrub,
      this.undoBtn,
      this.scroller,
    );
    this.unsubscribe = opts.peer.onChange(() => this.refreshSoon());
    void this.refresh();
  }

  /** The timeline after the document changed (debounced). */
  private refreshSoon(): void {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, 400);
  }

  /** Fetch the timeline again. */
  async refresh(): Promise<void> {
    const t0 = performance.now();
    let timeline: Timeline;
    try {
      timeline = await this.opts.backend.docHistory(this.opts.docId);
    } catch (e) {
      this.opts.onError(`Could not load the history: ${(e as Error).message ?? e}`);
      return;
    }
    const n = timeline.bursts.length;
    this.timeline = timeline;
    this.spacer.style.height = `${n * ROW_HEIGHT}px`;
    this.scrub.max = String(Math.max(0, n - 1));
    if (this.selected === null) this.scrub.value = String(Math.max(0, n - 1));
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
    this.renderRows();
    const ms = performance.now() - t0;
    this.el.dataset.openMs = ms.toFixed(1);
    setText(this.status, `${timeline.changes} ${timeline.changes === 1 ? "change" : "changes"} in ${n} ${n === 1 ? "burst" : "bursts"}`);
  }

  private renderRowsSoon(): void {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.renderRows();
    });
  }

  /** Render the rows in view (row `i` from the top shows burst `n - 1 - i`). */
  private renderRows(): void {
    const bursts = this.timeline?.bursts ?? [];
    const n = bursts.length;
    const { start, end } = visibleRange(this.scroller.scrollTop, this.scroller.clientHeight || 400, ROW_HEIGHT, n);
    for (const [i, row] of this.rows) {
      if (i < start || i >= end) {
        row.remove();
        this.rows.delete(i);
      }
    }
    for (let i = start; i < end; i++) {
      const index = n - 1 - i;
      let row = this.rows.get(i);
      if (!row) {
        row = this.row(bursts[index]!, index);
        row.style.top = `${i * ROW_HEIGHT}px`;
        this.rows.set(i, row);
        this.scroller.append(row);
      }
      row.setAttribute("aria-selected", String(index === this.selected));
    }
  }

  private row(b: Burst, index: number): HTMLElement {
    const paths = b.paths.length ? b.paths.join(" ") : this.timeline?.paths === false ? "" : "—";
    return h(
      "div",
      {
        class: "timeline-row",
        testid: "timeline-row",
        role: "option",
        "data-index": String(index),
        title: "Shift-click another point to mark every change between the two",
        onclick: (ev: MouseEvent) => {
          const other = this.selected;
          if (ev.shiftKey && other !== null && other !== index) this.select(Math.max(other, index), Math.min(other, index));
          else this.select(index);
        },
      },
      h("span", { class: "row-time" }, formatTime(b.end)),
      h("span", { class: "row-author", title: b.actor }, b.author),
      h("span", { class: "row-size" }, burstSummary(b)),
      h("span", { class: "row-paths" }, paths),
    );
  }

  private keydown(ev: KeyboardEvent): void {
    const n = this.timeline?.bursts.length ?? 0;
    if (!n) return;
    const cur = this.selected ?? n;
    if (ev.key === "ArrowDown") this.select(Math.max(0, cur - 1));
    else if (ev.key === "ArrowUp") this.select(Math.min(n - 1, cur + 1));
    else return;
    ev.preventDefault();
  }

  /**
   * Show the version right after burst `index`, then what changed to make it:
   * that burst alone, or every change since the point after burst `since`.
   */
  select(index: number, since?: number): void {
    const b = this.timeline?.bursts[index];
    if (!b) return;
    const older = since !== undefined && since < index ? this.timeline?.bursts[since] : undefined;
    const from = older ? older.heads_after : b.heads_before;
    this.selected = index;
    this.scrub.value = String(index);
    this.renderRows();
    const ticket = ++this.ticket;
    const t0 = performance.now();
    const id = this.opts.docId;
    void this.opts.backend
      .docAt(id, b.heads_after)
      .then(async (value) => {
        if (ticket !== this.ticket) return;
        this.showVersion(b, index, value, null, since);
        const renderMs = (performance.now() - t0).toFixed(1);
        this.version!.dataset.renderMs = renderMs;
        const t1 = performance.now();
        const [before, entries] = await Promise.all([
          this.opts.backend.docAt(id, from),
          this.opts.backend.docDiff(id, from, b.heads_after),
        ]);
        if (ticket !== this.ticket) return;
        const patches = toPatches(entries);
        const { changed, inside } = changedPaths(patches);
        const texts = new Map<string, Segment[]>();
        for (const at of changed) {
          const path = patches.find((p) => pathToString(p.path.slice(0, -1)) === at && (p.action === "splice" || p.action === "del"))?.path;
          if (!path) continue;
          const textPath = path.slice(0, -1);
          const old = getAt(before, textPath);
          if (typeof old === "string" || old === undefined) texts.set(at, textSegments(old ?? "", patches, textPath));
        }
        this.showVersion(b, index, value, { changed, inside, texts }, since);
        this.version!.dataset.renderMs = renderMs;
        this.version!.dataset.diffMs = (performance.now() - t1).toFixed(1);
      })
      .catch((e) => {
        if (ticket === this.ticket) this.opts.onError(`Could not show that version: ${(e as Error).message ?? e}`);
      });
  }

  private showVersion(b: Burst, index: number, value: unknown, marks: Marks | null, since?: number): void {
    const bursts = this.timeline?.bursts ?? [];
    const older = since !== undefined ? bursts[since] : undefined;
    const latest = index === bursts.length - 1;
    const el = h(
      "section",
      {
        class: "version-view",
        testid: "version-view",
        "data-index": String(index),
        "data-since": older ? String(since) : null,
        "aria-label": "A past version, read-only",
      },
      h(
        "div",
        { class: "version-banner", testid: "version-banner", role: "status" },
        h("strong", null, latest ? "Latest version, read-only: " : "Past version, read-only: "),
        `after ${burstSummary(b)} by ${b.author}, ${formatTime(b.end)}`,
        older
          ? h(
              "span",
              { class: "version-since", testid: "version-since" },
              ` · marked: every change since ${formatTime(older.end)} (${index - since!} bursts)`,
            )
          : " · marked: this burst",
        h(
          "span",
          { class: "version-actions" },
          !latest
            ? h(
                "button",
                {
                  type: "button",
                  class: "btn",
                  testid: "compare-now",
                  title: "Mark every change from this point to now",
                  onclick: () => this.select(bursts.length - 1, index),
                },
                "Changes since",
              )
            : null,
          h(
            "button",
            { type: "button", class: "btn primary", testid: "restore-version", onclick: () => void this.restore(b, []) },
            "Restore this version",
          ),
          h("button", { type: "button", class: "btn", testid: "back-to-live", onclick: () => this.backToLive() }, "Back to live"),
        ),
      ),
      marks ? null : h("p", { class: "version-note" }, "Finding what changed…"),
      h("div", { class: "version-body" }, this.render(value, [], marks, b)),
    );
    if (marks) el.dataset.marked = "true";
    this.version = el;
    this.opts.showVersion(el);
  }

  /** A read-only rendering of a JSON value, with the burst's changes marked. */
  private render(value: unknown, path: Prop[], marks: Marks | null, b: Burst): HTMLElement {
    const at = pathToString(path);
    const cls = (base: string) => `${base}${marks?.changed.has(at) ? " changed" : ""}${marks?.inside.has(at) ? " has-changes" : ""}`;
    if (typeof value === "string") {
      const segs = marks?.texts.get(at);
      return h(
        "pre",
        { class: cls("version-text"), testid: "version-text", "data-path": at },
        segs
          ? segs.map((s) => (s.kind === "same" ? s.text : h(s.kind, { class: `text-${s.kind}`, testid: `text-${s.kind}` }, s.text)))
          : value,
      );
    }
    if (Array.isArray(value)) {
      return h(
        "ol",
        { class: cls("version-list"), "data-path": at, start: "0" },
        value.map((v, i) => h("li", null, this.render(v, [...path, i], marks, b))),
      );
    }
    if (value !== null && typeof value === "object") {
      return h(
        "dl",
        { class: cls("version-map"), "data-path": at },
        Object.entries(value as Record<string, unknown>).map(([k, v]) => {
          const child = [...path, k];
          return h(
            "div",
            { class: "version-entry", "data-path": pathToString(child) },
            h(
              "dt",
              null,
              k,
              path.length === 0
                ? h(
                    "button",
                    {
                      type: "button",
                      class: "btn small subtle",
                      testid: "restore-field",
                      "data-path": pathToString(child),
                      "aria-label": `Restore ${pathLabel(child)} as it was here`,
                      onclick: () => void this.restore(b, child),
                    },
                    "Restore field",
                  )
                : null,
            ),
            h("dd", null, this.render(v, child, marks, b)),
          );
        }),
      );
    }
    return h("code", { class: cls("version-scalar"), "data-path": at }, JSON.stringify(value) ?? String(value));
  }

  private async restore(b: Burst, path: Prop[]): Promise<void> {
    try {
      this.lastRestore = await this.opts.backend.restoreVersion(this.opts.docId, b.heads_after, path.length ? path : undefined);
      this.undoBtn.hidden = false;
      setText(this.status, path.length ? `Restored ${pathLabel(path)}` : "Restored this version as a new change");
      this.backToLive();
    } catch (e) {
      this.opts.onError(`Could not restore: ${(e as Error).message ?? e}`);
    }
  }

  private async undoRestore(): Promise<void> {
    const last = this.lastRestore;
    if (!last) return;
    try {
      await this.opts.backend.restoreVersion(this.opts.docId, last.before);
      this.lastRestore = null;
      this.undoBtn.hidden = true;
      setText(this.status, "Restore undone (as a new change)");
    } catch (e) {
      this.opts.onError(`Could not undo the restore: ${(e as Error).message ?? e}`);
    }
  }

  /** Leave the past version; the live document shows again. */
  backToLive(): void {
    this.ticket++;
    this.selected = null;
    this.version = null;
    this.renderRows();
    this.opts.showVersion(null);
  }

  destroy(): void {
    this.ticket++;
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.unsubscribe();
    this.opts.showVersion(null);
    this.el.remove();
  }
}
