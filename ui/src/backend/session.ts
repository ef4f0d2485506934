// The browser's sign-in session with `tandem serve` (web backend only; the
// desktop app talks to its core over IPC and has no session).
//
// The server keeps the session in an HttpOnly cookie the page cannot read; the
// page learns who it is signed in as from `GET /_session`. When the session is
// gone (signed out in another tab, the server restarted, a token revoked) API
// calls answer 401 — or, on a server without configured tokens, the caller is
// simply anonymous and owner calls answer 403 and sockets are refused. Either
// way the page goes to `/_signin` ONCE: no retry loop, no half-working UI.

/** A token's role, as `GET /_session` reports it. */
export type SessionRole = "read" | "write" | "owner";

/** Who the page is signed in as; both `null` when anonymous. */
export interface SessionInfo {
  name: string | null;
  role: SessionRole | null;
}

/** Where the sign-in page and the sign-out action live (server routes). */
export const SIGN_IN_PATH = "/_signin";
export const SIGN_OUT_PATH = "/_signout";
export const SESSION_PATH = "/_session";

const ROLES: readonly string[] = ["read", "write", "owner"];

/** A `GET /_session` body, checked; anything unexpected counts as anonymous. */
export function parseSession(v: unknown): SessionInfo {
  const o = (v && typeof v === "object" ? v : {}) as { name?: unknown; role?: unknown };
  const name = typeof o.name === "string" && o.name !== "" ? o.name : null;
  const role = typeof o.role === "string" && ROLES.includes(o.role) ? (o.role as SessionRole) : null;
  return name && role ? { name, role } : { name: null, role: null };
}

/** Whether the session carries a credential. */
export function isSignedIn(s: SessionInfo): boolean {
  return s.name !== null && s.role !== null;
}

/** "alice (owner)", or "not signed in". */
export function sessionLabel(s: SessionInfo): string {
  return isSignedIn(s) ? `${s.name} (${s.role})` : "not signed in";
}

/**
 * What a response status says about the session: `lost` (401: the server
 * refused the credential or wants one), `check` (403:
 * the session may have gone, on a server where anonymous callers are peers),
 * or `fine`.
 */
export function statusVerdict(status: number): "lost" | "check" | "fine" {
  if (status === 401) return "lost";
  if (status === 403) return "check";
  return "fine";
}

/** What a {@link SessionWatch} needs from its surroundings. */
export interface SessionWatchDeps {
  /** `GET /_session`: resolves with status and parsed JSON body (null if none); rejects when the server is unreachable. */
  fetchSession(): Promise<{ status: number; body: unknown }>;
  /** Leave the page for the sign-in page (in a browser: `location.assign("/_signin")`). */
  goToSignIn(): void;
}

/**
 * Watches for the session to end and sends the page to sign in, once.
 * Checks are coalesced (one `/_session` request in flight at a time), and an
 * unreachable server is not a lost session (the sockets' reconnect handles it).
 */
export class SessionWatch {
  private gone = false;
  private checking: Promise<void> | null = null;

  constructor(private readonly deps: SessionWatchDeps) {}

  /** Whether the page has been sent to sign in. */
  get lost(): boolean {
    return this.gone;
  }

  /** The session is gone: go to the sign-in page (only the first call does). */
  signInAgain(): void {
    if (this.gone) return;
    this.gone = true;
    this.deps.goToSignIn();
  }

  /** Acts on an HTTP status from an API call. */
  onStatus(status: number): void {
    const verdict = statusVerdict(status);
    if (verdict === "lost") this.signInAgain();
    else if (verdict === "check") void this.check();
  }

  /** Asks the server who we are; goes to sign in if the answer is "nobody". */
  check(): Promise<void> {
    if (this.gone) return Promise.resolve();
    if (this.checking) return this.checking;
    this.checking = (async () => {
      try {
        const { status, body } = await this.deps.fetchSession();
        if (status === 401 || (status >= 200 && status < 300 && !isSignedIn(parseSession(body)))) this.signInAgain();
      } catch {
        /* unreachable: not a verdict on the session */
      } finally {
        this.checking = null;
      }
    })();
    return this.checking;
  }
}
