// Pieces shared by the automerge-repo interop scripts: real automerge-repo
// clients (the npm packages, unmodified) and the `tandem` CLI as an ndjson
// client, both against real servers on 127.0.0.1.

import { join } from "node:path";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { onCleanup, runTandem, sleep, tempDir } from "../e2e/harness.mjs";

/** An automerge-repo client (no storage) connected to `wsUrl`; shut down at clean-up. */
export function repoClient(wsUrl) {
  const adapter = new WebSocketClientAdapter(wsUrl, 500);
  const repo = new Repo({ network: [adapter] });
  onCleanup(async () => {
    await Promise.race([repo.shutdown().catch(() => {}), sleep(3000)]);
  });
  return repo;
}

/** Runs `tandem ARGS` (the harness's `runTandem`). */
export const tandem = runTandem;

/** A fresh path for a local .automerge file. */
export function localFile(name) {
  return join(tempDir(`tandem-repo-${name}-`), `${name}.automerge`);
}

/** The document in a .automerge file, as JSON. */
export async function catFile(file) {
  return JSON.parse(await tandem(["cat", file]));
}
