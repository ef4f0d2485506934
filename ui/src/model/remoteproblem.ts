// What a remote's failure means for the user, and which fix to offer in place:
// one function, so the "Open from server" dialog and the connection rows in a
// document's header say the same thing.
import type { RemoteInfo, RemoteProblem } from "../backend/types";

/** The fix a UI offers next to the message. */
export type RemoteFix =
  | { kind: "trust-certificate"; fingerprint: string }
  | { kind: "edit-token" }
  | { kind: "edit-url" }
  | { kind: "retry" };

export interface ProblemAdvice {
  /** One or two sentences: what is wrong, in words. */
  message: string;
  /** What the user can do about it, best first. */
  fixes: RemoteFix[];
}

/** The host:port of a URL, for messages (the URL itself when it cannot be parsed). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Words and fixes for a remote that stopped (or could not start). */
export function adviseOnProblem(info: Pick<RemoteInfo, "url" | "error" | "problem" | "doc_id">): ProblemAdvice {
  const host = hostOf(info.url);
  const problem: RemoteProblem = info.problem ?? { kind: "other" };
  switch (problem.kind) {
    case "certificate":
      return problem.presented
        ? {
            message: `${host} presented a certificate this device does not trust. If that is the server you expect, trust its certificate: ${problem.presented}`,
            fixes: [{ kind: "trust-certificate", fingerprint: problem.presented }, { kind: "retry" }],
          }
        : { message: `${host}'s certificate is not trusted (${info.error ?? "refused"}).`, fixes: [{ kind: "retry" }] };
    case "unauthorized":
      return {
        message: `${host} refused the access token: it is missing, wrong or revoked.`,
        fixes: [{ kind: "edit-token" }, { kind: "retry" }],
      };
    case "forbidden":
      return {
        message: `${host} does not let this token use “${info.doc_id}” (its role or documents do not include it).`,
        fixes: [{ kind: "edit-token" }, { kind: "retry" }],
      };
    case "not-found":
      return {
        message: `${host} has no document “${info.doc_id}” (or does not share it with you). Check the document id in the URL.`,
        fixes: [{ kind: "edit-url" }, { kind: "retry" }],
      };
    case "gone":
      return { message: `“${info.doc_id}” was deleted on ${host}. The local copy is kept.`, fixes: [] };
    case "unreachable":
      return {
        message: `Cannot reach ${host}: ${info.error ?? "no answer"}. Is the server running, and the address right?`,
        fixes: [{ kind: "edit-url" }, { kind: "retry" }],
      };
    default:
      return { message: info.error ?? `${host} could not be synced with.`, fixes: [{ kind: "retry" }] };
  }
}
