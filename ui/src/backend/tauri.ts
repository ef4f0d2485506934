// TauriBackend: the same contract through Tauri commands (`invoke`) and a
// `Channel` per open document. Loaded only when `window.__TAURI_INTERNALS__`
// exists (dynamic import keeps `@tauri-apps/api` out of the web bundle).
//
// Commands (Rust side, to be wired): list_docs, create_doc{title},
// delete_doc{id}, export_doc{id} -> bytes, import_doc{bytes},
// open_doc_channel{id, channel} -> handle, send_sync{id, line},
// close_doc_channel{id, handle}, list_remotes,
// add_remote{req fields}, remove_remote{id}, health, list_peers,
// peer_docs{id}, open_peer_doc{id, docId}, verify_peer{id}, forget_peer{id},
// set_share{id, policy}, export_doc_to_file{id, title} and
// import_doc_from_file (the native dialogs run in Rust), take_launch_requests;
// events `docs-changed`, `remote` (payload = RemoteInfo), `peers-changed` and
// `launch` (requests are waiting).
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { DiffEntry, HistoryEdit, Timeline } from "../model/history";
import type { Prop } from "../model/path";
import {
  type ActivityReport,
  type AddRemoteRequest,
  type AddRemoteResult,
  type Backend,
  BackendError,
  type BackendEvent,
  type DocChannel,
  type DocChannelHandlers,
  type DocSummary,
  type Health,
  isCode,
  type LanStatus,
  type LaunchRequest,
  type LinkStatus,
  type PeerInfo,
  type RemoteDeletion,
  type RemoteInfo,
  type RemoteUpdate,
  type SearchResults,
  type SharePolicy,
} from "./types";

/**
 * Tauri command errors arrive as the core's `{code, message}`; a bare string
 * comes from Tauri itself (an IPC failure), not from a command.
 */
export function toError(e: unknown): BackendError {
  if (e instanceof BackendError) return e;
  if (e && typeof e === "object") {
    const o = e as { message?: unknown; code?: unknown };
    if (typeof o.message === "string") return new BackendError(o.message, isCode(o.code) ? o.code : "internal");
  }
  return new BackendError(String(e), "internal");
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toError(e);
  }
}

/** `Vec<u8>` comes back as a number array (JSON) or an ArrayBuffer (raw IPC response). */
function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  throw new BackendError("export_doc returned an unexpected value", "internal");
}

export class TauriBackend implements Backend {
  readonly kind = "tauri" as const;

  listDocs(): Promise<DocSummary[]> {
    return call("list_docs");
  }

  async createDoc(title: string): Promise<string> {
    const r = await call<{ id: string } | string>("create_doc", { title });
    return typeof r === "string" ? r : r.id;
  }

  async deleteDoc(id: string, everywhere = false): Promise<RemoteDeletion[]> {
    return (await call<RemoteDeletion[] | null>("delete_doc", { id, everywhere })) ?? [];
  }

  async exportDoc(id: string): Promise<Uint8Array> {
    return toBytes(await call<unknown>("export_doc", { id }));
  }

  async importDoc(bytes: Uint8Array): Promise<string> {
    // JSON args: a Uint8Array would serialise as an object, so send number[] (Vec<u8>).
    const r = await call<{ id: string } | string>("import_doc", { bytes: Array.from(bytes) });
    return typeof r === "string" ? r : r.id;
  }

  exportToFile(id: string, title: string): Promise<string | null> {
    return call("export_doc_to_file", { id, title });
  }

  importFromFile(): Promise<{ id: string; path: string } | null> {
    return call("import_doc_from_file");
  }

  onLaunchRequests(handler: (requests: LaunchRequest[]) => void): () => void {
    let active = true;
    // Taken, not peeked: each request is handled once even if events pile up.
    const take = () =>
      void call<LaunchRequest[]>("take_launch_requests")
        .then((reqs) => {
          if (active && reqs.length > 0) handler(reqs);
        })
        .catch(() => {});
    const unlisten = listen("launch", take);
    take(); // what the app was started with
    return () => {
      active = false;
      unlisten.then((f) => f()).catch(() => {});
    };
  }

  openDoc(id: string, handlers: DocChannelHandlers): DocChannel {
    let closed = false;
    let open = false;
    const status = (s: LinkStatus) => handlers.onStatus?.(s);
    const channel = new Channel<string>();
    channel.onmessage = (line) => {
      if (closed) return;
      const text = typeof line === "string" ? line : JSON.stringify(line);
      for (const l of text.split("\n")) if (l.trim()) handlers.onLine(l);
    };
    status({ state: "connecting" });
    // The session's handle: closing by handle cannot end a newer session of the same document.
    let handle: number | null = null;
    const closeSession = (h: number) => void call<void>("close_doc_channel", { id, handle: h }).catch(() => {});
    call<number>("open_doc_channel", { id, channel })
      .then((h) => {
        handle = h;
        if (closed) return closeSession(h); // closed while opening
        open = true;
        status({ state: "open" });
        handlers.onOpen();
      })
      .catch((e) => {
        if (closed) return;
        status({ state: "reconnecting", retryInMs: 0, attempt: 1, error: toError(e).message });
        handlers.onLine(JSON.stringify({ event: "error", message: toError(e).message }));
      });
    return {
      send: (line) => {
        if (!open || closed) return false;
        call<void>("send_sync", { id, line }).catch((e) =>
          handlers.onLine(JSON.stringify({ event: "error", message: toError(e).message })),
        );
        return true;
      },
      close: () => {
        closed = true;
        channel.onmessage = () => {};
        if (handle !== null) closeSession(handle);
        status({ state: "closed" });
      },
    };
  }

  listRemotes(): Promise<RemoteInfo[]> {
    return call("list_remotes");
  }

  addRemote(req: AddRemoteRequest, opts: { wait?: boolean } = {}): Promise<AddRemoteResult> {
    // Tauri maps command arguments by (camelCase) name. We send the fields
    // both spread (`url`, `docId`, `token`, `fingerprint`, `trust`) and as one
    // struct `req` (snake_case, same as the HTTP body) so either Rust
    // signature works; Tauri ignores keys a command doesn't take.
    return call("add_remote", {
      url: req.url,
      docId: req.doc_id,
      token: req.token,
      fingerprint: req.fingerprint,
      trust: req.trust,
      wait: opts.wait ?? false,
      req,
    });
  }

  removeRemote(id: string): Promise<void> {
    return call("remove_remote", { id });
  }

  setWindowTitle(title: string): void {
    void import("@tauri-apps/api/window")
      .then(({ getCurrentWindow }) => getCurrentWindow().setTitle(title))
      .catch(() => {
        /* a title is not worth an error */
      });
  }

  osUserName(): Promise<string | null> {
    return call("os_user_name");
  }

  openDataFolder(): Promise<void> {
    return call("open_data_folder");
  }

  openExternal(url: string): Promise<void> {
    return call("open_external", { url });
  }

  activity(): Promise<ActivityReport> {
    return call("activity");
  }

  search(query: string): Promise<SearchResults> {
    return call("search_docs", { query });
  }

  retryRemote(id: string): Promise<RemoteInfo> {
    return call("retry_remote", { id });
  }

  updateRemote(id: string, update: RemoteUpdate): Promise<RemoteInfo> {
    return call("update_remote", { id, token: update.token ?? null, fingerprint: update.fingerprint ?? null });
  }

  health(): Promise<Health> {
    return call("health");
  }

  lanStatus(): Promise<LanStatus> {
    return call("lan_status");
  }

  setLanSettings(change: Partial<Pick<LanStatus, "enabled" | "discovery" | "name">>): Promise<LanStatus> {
    return call("set_lan_settings", { settings: change });
  }

  listPeers(): Promise<PeerInfo[]> {
    return call("list_peers");
  }

  peerDocs(peerId: string): Promise<DocSummary[]> {
    return call("peer_docs", { id: peerId });
  }

  openPeerDoc(peerId: string, docId: string): Promise<RemoteInfo> {
    return call("open_peer_doc", { id: peerId, docId });
  }

  verifyPeer(peerId: string): Promise<PeerInfo> {
    return call("verify_peer", { id: peerId });
  }

  forgetPeer(peerId: string): Promise<void> {
    return call("forget_peer", { id: peerId });
  }

  setShare(docId: string, policy: SharePolicy): Promise<void> {
    return call("set_share", { id: docId, policy });
  }

  docHistory(docId: string): Promise<Timeline> {
    return call("doc_history", { id: docId });
  }

  docAt(docId: string, heads: readonly string[]): Promise<unknown> {
    return call("doc_at", { id: docId, heads: heads.join(",") });
  }

  docDiff(docId: string, from: readonly string[], to: readonly string[]): Promise<DiffEntry[]> {
    return call("doc_diff", { id: docId, from: from.join(","), to: to.join(",") });
  }

  restoreVersion(docId: string, heads: readonly string[], path?: readonly Prop[]): Promise<HistoryEdit> {
    return call("restore_version", { id: docId, heads: heads.join(","), path: path ?? null });
  }

  resolveConflict(docId: string, path: readonly Prop[], choice: string): Promise<HistoryEdit> {
    return call("resolve_conflict", { id: docId, path, choice });
  }

  subscribe(onEvent: (ev: BackendEvent) => void, onStatus?: (s: LinkStatus) => void): () => void {
    const unlisteners: Promise<() => void>[] = [
      listen("docs-changed", () => onEvent({ event: "docs-changed" })),
      listen<RemoteInfo>("remote", (e) => onEvent({ event: "remote", remote: e.payload })),
      listen("peers-changed", () => onEvent({ event: "peers-changed" })),
    ];
    onStatus?.({ state: "open" });
    return () => {
      for (const u of unlisteners) u.then((f) => f()).catch(() => {});
    };
  }
}
