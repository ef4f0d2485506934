// automerge-repo clients (the real npm packages) on `tandem serve`:
//  - a repo client creates a document on Tandem, an ndjson client
//    (`tandem sync`) edits it, the repo client sees the edit live; the reverse;
//  - tokens reach the socket as ?access_token= on a gated server; a read
//    token may read but not write; a page of another origin is refused;
//  - ephemeral messages are relayed between repo clients of one document;
//  - 5 repo clients and 5 ndjson clients edit one text concurrently and converge.
//
//   node ui/tests/repo/serve-interop.mjs   (needs target/debug/tandem and ui/dist)

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as A from "@automerge/automerge";
import WebSocket from "ws";
import { assert, begin, check, fail, figure, finish, ms, serve, spawnTandem, stopProcess, tempDir, until } from "../e2e/harness.mjs";
import { catFile, localFile, repoClient, tandem } from "./lib.mjs";

begin("automerge-repo on tandem serve", { timeoutMs: 240_000 });

try {
  const server = await serve("repo");
  const ws = server.url.replace(/^http/, "ws");

  let docId = "";
  let handle = null;

  await check("a repo client creates a document on Tandem; an ndjson client gets it", async () => {
    const repo = repoClient(`${ws}/`);
    handle = repo.create({ text: "hello" });
    docId = handle.documentId;
    assert(/^[1-9A-HJ-NP-Za-km-z]+$/.test(docId), `a bs58 id: ${docId}`);
    const file = localFile("pull");
    const { took } = await until(
      15_000,
      "the document on Tandem",
      async () => {
        await tandem(["sync", `${server.url}/${docId}`, "--file", file, "--timeout", "5"]);
        return (await catFile(file)).text === "hello";
      },
      200,
    );
    figure(`repo create → ndjson client has it: ${ms(took)}`);
  });

  await check("an ndjson client's edit reaches the repo client live", async () => {
    const file = localFile("edit");
    await tandem(["sync", `${server.url}/${docId}`, "--file", file]);
    await tandem(["edit", file, "--splice", "text", "5", "0", " world"]);
    const t0 = performance.now();
    await tandem(["sync", `${server.url}/${docId}`, "--file", file]);
    await until(10_000, "the edit in the repo client", () => handle.doc()?.text === "hello world");
    figure(`ndjson push → repo client sees it: ${ms(performance.now() - t0)}`);
  });

  await check("a repo client's edit reaches a live ndjson client (tandem sync --follow)", async () => {
    const file = localFile("follow");
    const child = spawnTandem(["sync", `${server.url}/${docId}`, "--file", file, "--follow"]);
    await until(10_000, "the follower's first copy", async () => (await catFile(file)).text === "hello world", 100);
    const t0 = performance.now();
    handle.change((d) => A.splice(d, ["text"], 0, 0, ">> "));
    await until(10_000, "the repo edit in the follower's file", async () => (await catFile(file)).text === ">> hello world", 50);
    figure(`repo edit → live ndjson follower's file: ${ms(performance.now() - t0)}`);
    await stopProcess(child);
  });

  await check("a second repo client finds the document by its automerge: URL", async () => {
    const other = repoClient(`${ws}/`);
    const found = await other.find(`automerge:${docId}`);
    assert(found.doc().text === ">> hello world", JSON.stringify(found.doc()));
  });

  await check("ephemeral messages travel between repo clients of a document through Tandem", async () => {
    const one = await repoClient(`${ws}/`).find(`automerge:${docId}`);
    const two = await repoClient(`${ws}/`).find(`automerge:${docId}`);
    const heard = [];
    two.on("ephemeral-message", ({ message }) => heard.push(message));
    // Broadcast until heard: the first may go out before the other client's
    // socket has asked for the document.
    await until(
      10_000,
      "the cursor at the other client",
      () => {
        one.broadcast({ cursor: 3 });
        return heard.some((m) => m?.cursor === 3);
      },
      200,
    );
  });

  await check("an unknown document is unavailable to a repo client, not created", async () => {
    const other = repoClient(`${ws}/`);
    const ghost = "automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu";
    let error = null;
    await other.find(ghost).catch((e) => (error = e));
    assert(error && /unavailable/i.test(String(error)), `find failed as unavailable: ${error}`);
    const listed = await fetch(`${server.url}/_docs`, { headers: { authorization: `Bearer ${server.ownerToken}` } }).then((r) => r.json());
    assert(!JSON.stringify(listed).includes("4NMNnkMhL8jXrdJ9jamS58PAVdXu"), "nothing was created");
  });

  // ---- tokens on a gated server ----------------------------------------------------------------
  const tokensDir = tempDir("tandem-repo-tokens-");
  const tokenFile = join(tokensDir, "tokens");
  writeFileSync(tokenFile, "alice write alice-secret-0123456789\nreader read reader-secret-0123456789\n", { mode: 0o600 });
  const gated = await serve("gated", ["--token-file", tokenFile]);
  const gws = gated.url.replace(/^http/, "ws");

  await check("on a gated server a repo client without a token is refused (401)", async () => {
    const status = await new Promise((res) => {
      const sock = new WebSocket(`${gws}/`);
      sock.on("unexpected-response", (_req, r) => res(r.statusCode));
      sock.on("open", () => {
        sock.close();
        res("open");
      });
      sock.on("error", () => {});
    });
    assert(status === 401, `status ${status}`);
  });

  let gatedId = "";
  await check("?access_token= lets a repo client write; a read token reads but cannot write", async () => {
    const alice = repoClient(`${gws}/?access_token=alice-secret-0123456789`);
    const h = alice.create({ text: "gated" });
    gatedId = h.documentId;
    const file = localFile("gated");
    await until(
      15_000,
      "alice's document on the gated server",
      async () => {
        await tandem(["sync", `${gated.url}/${gatedId}`, "--file", file, "--token", "alice-secret-0123456789", "--timeout", "5"]);
        return (await catFile(file)).text === "gated";
      },
      200,
    );
    const reader = repoClient(`${gws}/?access_token=reader-secret-0123456789`);
    const seen = await reader.find(`automerge:${gatedId}`);
    assert(seen.doc().text === "gated", "the reader reads");
    seen.change((d) => A.splice(d, ["text"], 0, 0, "X"));
    await new Promise((r) => setTimeout(r, 1500));
    await tandem(["sync", `${gated.url}/${gatedId}`, "--file", file, "--token", "alice-secret-0123456789"]);
    assert((await catFile(file)).text === "gated", "the read token's change was refused");
  });

  await check("a page of another origin is refused at the socket", async () => {
    const status = await new Promise((res) => {
      const sock = new WebSocket(`${ws}/`, { headers: { origin: "http://evil.example" } });
      sock.on("unexpected-response", (_req, r) => res(r.statusCode));
      sock.on("open", () => {
        sock.close();
        res("open");
      });
      sock.on("error", () => {});
    });
    assert(status === 403, `status ${status}`);
  });

  // ---- mixed concurrent editing ----------------------------------------------------------------
  await check("5 repo clients and 5 ndjson clients edit one text concurrently and converge", async () => {
    const seed = repoClient(`${ws}/`).create({ text: "" });
    const id = seed.documentId;
    const files = [0, 1, 2, 3, 4].map((k) => localFile(`mix${k}`));
    await until(
      15_000,
      "the shared document on Tandem",
      async () => {
        await tandem(["sync", `${server.url}/${id}`, "--file", files[0], "--timeout", "5"]);
        return (await catFile(files[0])).text === "";
      },
      200,
    );
    const repos = await Promise.all([0, 1, 2, 3, 4].map(async () => repoClient(`${ws}/`).find(`automerge:${id}`)));
    const rounds = 4;
    const expected = [];
    const t0 = performance.now();
    const repoEdits = repos.map(async (h, k) => {
      for (let i = 0; i < rounds; i++) {
        const word = `r${k}.${i};`;
        expected.push(word);
        h.change((d) => A.splice(d, ["text"], 0, 0, word));
        await new Promise((r) => setTimeout(r, 30));
      }
    });
    const ndjsonEdits = files.map(async (file, k) => {
      for (let i = 0; i < rounds; i++) {
        const word = `n${k}.${i};`;
        expected.push(word);
        await tandem(["sync", `${server.url}/${id}`, "--file", file]);
        await tandem(["edit", file, "--splice", "text", "0", "0", word]);
        await tandem(["sync", `${server.url}/${id}`, "--file", file]);
      }
    });
    await Promise.all([...repoEdits, ...ndjsonEdits]);
    const total = expected.reduce((n, w) => n + w.length, 0);
    const { took } = await until(
      30_000,
      "every client to converge",
      async () => {
        const texts = repos.map((h) => h.doc().text);
        for (const file of files) {
          await tandem(["sync", `${server.url}/${id}`, "--file", file]);
          texts.push((await catFile(file)).text);
        }
        return texts.every((t) => t === texts[0] && t.length === total);
      },
      200,
    );
    const text = repos[0].doc().text;
    for (const w of expected) assert(text.includes(w), `${w} kept`);
    figure(`10 mixed clients × ${rounds} edits: all converged ${ms(took)} after the last edit (${ms(performance.now() - t0)} overall)`);
  });
} catch (e) {
  fail(`setup: ${e?.stack ?? e}`);
}
await finish();
