// Tandem links: one string that opens a document from its server —
// `tandem://open?url=<document URL>&fp=<certificate fingerprint>`. "Copy
// link" builds it; "Open from server…" and the desktop app's `tandem://`
// deep link parse it. The Rust twin is `src-tauri/src/link.rs`.

/** A parsed Tandem link. */
export interface TandemLink {
  /** The document's URL on its server (`http(s)://host:port/<id>`, or `ws(s)://…`). */
  url: string;
  /** The server certificate's SHA-256 fingerprint to pin, if the link has one. */
  fingerprint: string | null;
}

/** The link that opens `url` (pinning `fingerprint`, when given). */
export function buildTandemLink(url: string, fingerprint?: string | null): string {
  const query = new URLSearchParams({ url });
  if (fingerprint?.trim()) query.set("fp", fingerprint.trim());
  return `tandem://open?${query.toString()}`;
}

/** Whether `text` looks like a Tandem link at all (starts with `tandem:`). */
export function isTandemLink(text: string): boolean {
  return /^\s*tandem:/i.test(text);
}

/** Parses a Tandem link; throws an Error saying what is wrong with it. */
export function parseTandemLink(text: string): TandemLink {
  const trimmed = text.trim();
  if (!isTandemLink(trimmed)) throw new Error(`Not a tandem:// link: ${trimmed}`);
  const rest = trimmed.slice("tandem:".length).replace(/^\/\//, "");
  const q = rest.indexOf("?");
  const action = (q < 0 ? rest : rest.slice(0, q)).replace(/\/+$/, "");
  if (action.toLowerCase() !== "open") throw new Error(`Unknown tandem:// action “${action}” (only “open” exists)`);
  const query = new URLSearchParams(q < 0 ? "" : rest.slice(q + 1));
  const url = (query.get("url") ?? "").trim();
  if (!url) throw new Error("The link names no document (its url= parameter is missing)");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`The link's document URL “${url}” is not a URL`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol) || !parsed.host)
    throw new Error(`The link's document URL “${url}” is not an http(s):// or ws(s):// URL`);
  const fp = (query.get("fp") ?? "").trim();
  return { url, fingerprint: fp || null };
}
