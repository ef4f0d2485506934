import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// `@automerge/automerge-codemirror` imports the "fullfat" `@automerge/automerge`
// entry, whose browser build imports the .wasm as an ES module (needs extra
// bundler plugins). We alias the bare specifier to the `/slim` entry so that
// the whole app shares ONE Automerge module instance, which src/automerge.ts
// initialises from the base64-embedded wasm (see README: "Loading wasm").
const slim = fileURLToPath(new URL("./node_modules/@automerge/automerge/dist/mjs/entrypoints/slim.js", import.meta.url));

// `TANDEM_URL=http://127.0.0.1:7450 npm run dev` proxies the backend contract
// to a running `tandem serve`.
const backend = process.env.TANDEM_URL;
const proxied = ["/_docs", "/_import", "/_remotes", "/_health", "/_ws", "/_events"];

export default defineConfig({
  base: "./",
  resolve: {
    alias: [{ find: /^@automerge\/automerge$/, replacement: slim }],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Tauri on Linux uses WebKitGTK (Safari-class engine).
    target: ["es2022", "chrome100", "safari15"],
    chunkSizeWarningLimit: 6000,
    reportCompressedSize: false,
  },
  server: backend
    ? {
        proxy: Object.fromEntries(proxied.map((p) => [p, { target: backend, ws: p === "/_ws" || p === "/_events" }])),
      }
    : undefined,
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
    setupFiles: ["tests/setup.ts"],
    pool: "threads",
    maxWorkers: 2,
  },
});
