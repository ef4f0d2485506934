// The automerge-repo npm packages, resolved from ui/node_modules, for test
// scripts that live elsewhere (the desktop e2e in src-tauri/tests/e2e).

import { createRequire } from "node:module";

export * as Automerge from "@automerge/automerge";
export { Repo } from "@automerge/automerge-repo";
export { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

/** The entry point of `@automerge/automerge-repo-sync-server` (run it with node; PORT and DATA_DIR from the environment). */
export const syncServerMain = createRequire(import.meta.url).resolve("@automerge/automerge-repo-sync-server/src/index.js");
