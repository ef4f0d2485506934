#!/usr/bin/env node
// End-to-end, in Debian's Chromium: web pages of other origins get nothing
// from a running Tandem, and the served UI on its own origin still works.
//
// A `tandem serve` (no tokens: anonymous programs may sync `lan` documents)
// holds a private document and a `lan` one. The browser is signed in to it as
// the owner (so its session cookie exists, as for a real user). Then a page on
// http://127.0.0.2:PORT (loopback, another origin) tries to read with fetch,
// to write with fetch (JSON, and a Blob with no content type carrying a real
// Automerge change), HTML forms (share policy, new document, sign-in) and
// sendBeacon, and to open /_ws and /_events. A page at http://rebind.test:PORT
// (Chromium maps the name to 127.0.0.1: DNS rebinding) tries the same
// same-origin. Every attempt must read nothing and change nothing, checked
// afterwards through the owner API; the write payload is first shown to work
// when a program sends it, so "nothing changed" means something.
//
// Then the positive side: the UI at http://127.0.0.1:PORT/_ui/ works after
// sign-in (create a document, type, see it listed, who is signed in, sign out),
// and on a server gated by `--token-file` a wrong token is refused on the
// sign-in page, the right one opens the UI, and after signing out elsewhere the
// UI's next call sends it back to sign in.
//
//   cargo build -p tandem --bin tandem && (cd ui && npm run build) && node ui/tests/e2e/browser-security.mjs
//   (TANDEM_BIN=…, CHROMIUM=/usr/bin/chromium, E2E_VERBOSE=1 override defaults)
import { chmodSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import * as Automerge from "@automerge/automerge";
import {
  api,
  assert,
  begin,
  check,
  fail,
  finish,
  launchChromium,
  onCleanup,
  request,
  serve,
  signIn,
  sleep,
  tempDir,
  tid,
  until,
} from "./harness.mjs";

begin("browser-security e2e", { timeoutMs: 280_000 });

const MARK = "TOP-SECRET-7f3a91";
const BODY = `${tid("text-editor")}[data-path="/body"] .cm-content`;

/** One ndjson sync line carrying a real change (title and body = `text`) from a fresh actor. */
function writePayload(text) {
  const doc = Automerge.from({ title: text, body: text });
  const message = Automerge.encodeSyncMessage({
    heads: Automerge.getHeads(doc),
    need: [],
    have: [],
    changes: Automerge.getAllChanges(doc),
  });
  return `${JSON.stringify({ event: "sync", data: Buffer.from(message).toString("base64") })}\n`;
}

/** Sends `body` the way a program would (no Origin, no token, no content type); stops listening after the headers. */
async function programWrite(server, path, body) {
  const ac = new AbortController();
  const r = await fetch(`${server.url}${path}`, { method: "POST", body: Buffer.from(body), signal: ac.signal });
  const status = r.status;
  ac.abort(); // the server keeps streaming the document's changes
  return status;
}

/** The attacker's web server on 127.0.0.2: a blank page with an iframe that form posts land in. */
async function attackerSite() {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end('<!doctype html><html><head><title>totally harmless</title></head><body><iframe name="sink"></iframe></body></html>');
  });
  await new Promise((res, rej) => {
    server.once("error", rej);
    server.listen(0, "127.0.0.2", res);
  });
  onCleanup(() => new Promise((r) => server.close(() => r())));
  return { url: `http://127.0.0.2:${server.address().port}`, seen };
}

/** Lines the server logged for refused requests to `path` (the gate logs each refusal). */
const refusals = (server, path) => server.stderr.filter((l) => /refused/.test(l) && l.split(/\s+/).includes(`path=${path}`));

/** Runs in the page: fetch (`init.blob`: a Blob body of that text), and report what the page could see. */
async function pageFetch(page, url, init = {}) {
  return page.evaluate(
    async ({ url, init }) => {
      const { blob, ...rest } = init;
      const options = { ...rest, signal: AbortSignal.timeout(5000) };
      if (blob !== undefined) options.body = new Blob([blob]); // no type: no Content-Type header
      try {
        const res = await fetch(url, options);
        let text = "";
        try {
          text = res.type === "opaque" ? "" : await res.text();
        } catch {
          /* body unreadable */
        }
        return { fetched: true, type: res.type, status: res.status, text };
      } catch (e) {
        return { fetched: false, error: String(e) };
      }
    },
    { url, init },
  );
}

/** Runs in the page: whether a WebSocket to `url` opens, and what it received. */
function pageSocket(page, url) {
  return page.evaluate(
    (url) =>
      new Promise((res) => {
        const got = [];
        let ws;
        try {
          ws = new WebSocket(url);
        } catch (e) {
          return res({ opened: false, how: `threw ${e}`, got });
        }
        const done = (how, opened) => {
          clearTimeout(timer);
          try {
            ws.close();
          } catch {
            /* closed */
          }
          res({ opened, how, got });
        };
        const timer = setTimeout(() => done("timeout", false), 5000);
        ws.onmessage = (m) => got.push(String(m.data));
        ws.onopen = () => setTimeout(() => done("open", true), 300); // keep it a moment: would anything arrive?
        ws.onerror = () => done("error", false);
        ws.onclose = (e) => done(`closed ${e.code}`, false);
      }),
    url,
  );
}

/**
 * What the page sees of its next request to `url`: `{ status }` for a
 * response, `{ failed }` (the browser's error text) for a network error,
 * `{}` when neither comes within 10 s. Both waits are settled, so the one
 * that loses never rejects unhandled.
 */
function formOutcome(page, url) {
  const settled = (promise) =>
    promise.then(
      (value) => value,
      () => null,
    );
  const response = settled(page.waitForResponse((r) => r.url() === url, { timeout: 10_000 })).then((r) => r && { status: r.status() });
  const failure = settled(page.waitForEvent("requestfailed", { predicate: (r) => r.url() === url, timeout: 10_000 })).then(
    (f) => f && { failed: f.failure()?.errorText ?? "a network error" },
  );
  return new Promise((resolve) => {
    let left = 2;
    for (const wait of [response, failure]) {
      wait.then((got) => {
        left -= 1;
        if (got) resolve(got);
        else if (left === 0) resolve({});
      });
    }
  });
}

/**
 * Runs in the page: an HTML form POST into an iframe of its own (a form
 * submitted into a frame whose last navigation is still committing can be
 * dropped by the browser without a request).
 */
function pageForm(page, action, fields, enctype) {
  return page.evaluate(
    ({ action, fields, enctype }) => {
      const sink = document.createElement("iframe");
      sink.name = `sink-${document.querySelectorAll("iframe").length}`;
      document.body.append(sink);
      const form = document.createElement("form");
      form.method = "post";
      form.action = action;
      form.target = sink.name;
      if (enctype) form.enctype = enctype;
      for (const [name, value] of Object.entries(fields)) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    },
    { action, fields, enctype },
  );
}

try {
  const T = await serve("T");
  const attacker = await attackerSite();
  const secret = (await api(T, "POST", "/_docs", { title: `${MARK} plans` })).id;
  await api(T, "PUT", `/_docs/${secret}/share`, { policy: "private" });
  const lan = (await api(T, "POST", "/_docs", { title: "Team notes" })).id;
  const control = (await api(T, "POST", "/_docs", { title: "Control" })).id;
  const titleOf = async (id) => (await api(T, "GET", `/${id}`))?.title;

  await check("the write payload works when a program sends it (so refusals below mean something)", async () => {
    const status = await programWrite(T, `/${control}`, writePayload("PWNED-control"));
    assert(status === 200, `program write answered ${status}`);
    await until(10_000, "the control doc to change", async () => (await titleOf(control)) === "PWNED-control");
    const created = await programWrite(T, "/control-new", writePayload("PWNED-new"));
    assert(created === 200, `program create answered ${created}`);
    await until(10_000, "control-new to exist", async () => (await titleOf("control-new")) === "PWNED-new");
  });

  const docsBefore = await api(T, "GET", "/_docs");
  const snapshot = (docs) => JSON.stringify(docs.map((d) => [d.id, d.title, d.share, [...d.heads].sort()]).sort());

  const browser = await launchChromium(["--host-resolver-rules=MAP rebind.test 127.0.0.1"]);
  // the victim: signed in as the owner, so the browser holds a session cookie for 127.0.0.1
  const victim = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const home = await victim.newPage();
  await signIn(home, T);

  const evil = await victim.newPage();
  const answers = []; // what the network saw for the attacker page's requests to Tandem
  evil.on("response", (r) => {
    if (r.url().startsWith(T.url)) answers.push({ method: r.request().method(), path: new URL(r.url()).pathname, status: r.status() });
  });
  await evil.goto(`${attacker.url}/`);
  const target = (path) => `${T.url}${path}`;
  const loot = [];

  await check("another origin cannot read: fetch of /_docs and documents fails, the server answers 403", async () => {
    for (const path of ["/_docs", `/${secret}`, `/${lan}`, "/_remotes", "/_session"]) {
      const cors = await pageFetch(evil, target(path), { credentials: "include" });
      loot.push(cors);
      assert(!cors.fetched, `${path} was readable: ${JSON.stringify(cors).slice(0, 200)}`);
      const opaque = await pageFetch(evil, target(path), { credentials: "include", mode: "no-cors" });
      loot.push(opaque);
      assert(
        !opaque.fetched || (opaque.type === "opaque" && opaque.text === ""),
        `${path} no-cors: ${JSON.stringify(opaque).slice(0, 200)}`,
      );
    }
    for (const path of ["/_docs", `/${secret}`, `/${lan}`, "/_remotes", "/_session"])
      await until(5000, `the refusal of GET ${path} in the server's log`, () => refusals(T, path).some((l) => l.includes("method=GET")));
    const gets = answers.filter((a) => a.method === "GET");
    assert(
      gets.every((a) => a.status === 403),
      `answers: ${JSON.stringify(gets)}`,
    );
  });

  await check("another origin cannot create: fetch POST /_docs (simple and preflighted) creates nothing", async () => {
    const simple = await pageFetch(evil, target("/_docs"), {
      method: "POST",
      mode: "no-cors",
      credentials: "include",
      body: JSON.stringify({ title: "pwned-fetch" }),
    });
    const preflighted = await pageFetch(evil, target("/_docs"), {
      method: "POST",
      credentials: "include",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "pwned-json" }),
    });
    loot.push(simple, preflighted);
    assert(!preflighted.fetched, `preflighted POST was readable: ${JSON.stringify(preflighted)}`);
    const posts = answers.filter((a) => a.method === "POST" && a.path === "/_docs");
    assert(posts.length >= 1 && posts.every((a) => a.status === 403), `answers: ${JSON.stringify(posts)}`);
  });

  await check("blind writes: fetch POST and PUT with a Blob body and no content type change nothing", async () => {
    for (const id of [lan, secret]) {
      loot.push(
        await pageFetch(evil, target(`/${id}`), {
          method: "POST",
          mode: "no-cors",
          credentials: "include",
          blob: writePayload("PWNED-blind-post"),
        }),
      );
      loot.push(await pageFetch(evil, target(`/${id}`), { method: "PUT", credentials: "include", blob: writePayload("PWNED-blind-put") }));
    }
    const writes = answers.filter((a) => (a.method === "POST" || a.method === "PUT") && (a.path === `/${lan}` || a.path === `/${secret}`));
    assert(
      writes.every((a) => a.status === 403),
      `answers: ${JSON.stringify(writes)}`,
    );
    assert(
      refusals(T, `/${lan}`).some((l) => l.includes("method=POST")),
      `no refusal logged for the blind POST to /${lan}`,
    );
  });

  await check("HTML form posts (share policy, new document, sign-in) are refused", async () => {
    const forms = [
      [`/_docs/${secret}/share`, { '{"policy":"lan","x":"': '"}' }, "text/plain"],
      ["/_docs", { '{"title":"pwned-form","x":"': '"}' }, "text/plain"],
      ["/_signin", { token: T.ownerToken }, undefined],
    ];
    for (const [path, fields, enctype] of forms) {
      const outcome = formOutcome(evil, target(path));
      await pageForm(evil, target(path), fields, enctype);
      const got = await outcome;
      if (got.failed !== undefined) {
        // The browser lost the answer (a network error, not a response):
        // the post must still have been refused by the server, and said so.
        const logged = () => refusals(T, path).some((l) => l.includes("method=POST"));
        await until(5000, `the server's refusal of the form POST ${path} (the browser saw ${got.failed})`, logged);
        console.log(`     note: the browser saw ${got.failed} for the form POST ${path}, not the 403; the server logged its refusal`);
        continue;
      }
      assert(
        got.status !== undefined,
        `form POST ${path}: the browser saw neither a response nor a network error within 10 s ` +
          `(refusals of it in the server's log: ${refusals(T, path).filter((l) => l.includes("method=POST")).length})`,
      );
      assert(got.status === 403, `form POST ${path} answered ${got.status}`);
    }
  });

  await check("a cross-site sign-in form creates no session, even with the right token (login CSRF)", async () => {
    const fresh = await browser.newContext();
    const page = await fresh.newPage();
    await page.goto(`${attacker.url}/`);
    const answered = page.waitForResponse((r) => r.url() === target("/_signin"), { timeout: 10_000 });
    await pageForm(page, target("/_signin"), { token: T.ownerToken });
    assert((await answered).status() === 403, "the sign-in form post was not refused");
    const cookies = (await fresh.cookies()).filter((c) => c.name.startsWith("tandem_session"));
    assert(cookies.length === 0, `a session cookie was set: ${JSON.stringify(cookies)}`);
    await fresh.close();
  });

  await check("navigator.sendBeacon cannot create a document", async () => {
    const queued = await evil.evaluate(({ url, payload }) => navigator.sendBeacon(url, new Blob([payload])), {
      url: target("/beacon-doc"),
      payload: writePayload("PWNED-beacon"),
    });
    assert(queued === true, "the browser did not even send the beacon");
    await until(10_000, "the server to refuse the beacon", () => refusals(T, "/beacon-doc").length > 0);
    const r = await request(T, "GET", "/beacon-doc");
    assert(r.status === 404, `beacon-doc: ${r.status} ${r.text}`);
  });

  await check("WebSockets to /_ws/{doc} and /_events do not open from another origin", async () => {
    for (const path of [`/_ws/${secret}`, `/_ws/${lan}`, "/_events"]) {
      const r = await pageSocket(evil, `ws://127.0.0.1:${T.port}${path}`);
      loot.push(...r.got);
      assert(!r.opened && r.got.length === 0, `${path} opened: ${JSON.stringify(r)}`);
      await until(5000, `the refusal of ${path}`, () => refusals(T, path).length > 0);
    }
  });

  await check("DNS rebinding: a page at rebind.test:PORT (resolving to 127.0.0.1) gets 421 and reads nothing", async () => {
    const page = await victim.newPage();
    const nav = await page.goto(`http://rebind.test:${T.port}/`);
    assert(nav?.status() === 421, `the rebinding page itself answered ${nav?.status()}`);
    for (const [path, init] of [
      ["/_docs", {}],
      [`/${secret}`, {}],
      [`/${lan}`, {}],
      ["/_ui/", {}],
      ["/_docs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: "pwned-rebind" }) }],
      [
        `/_docs/${secret}/share`,
        { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ policy: "lan" }) },
      ],
      [`/${lan}`, { method: "POST", blob: writePayload("PWNED-rebind") }],
    ]) {
      const r = await pageFetch(page, path, init);
      loot.push(r);
      assert(!r.fetched || r.status === 421, `${init.method ?? "GET"} ${path} from rebind.test: ${JSON.stringify(r).slice(0, 200)}`);
    }
    const ws = await pageSocket(page, `ws://rebind.test:${T.port}/_ws/${lan}`);
    assert(!ws.opened && ws.got.length === 0, `the socket opened: ${JSON.stringify(ws)}`);
    await page.close();
  });

  await check("afterwards, through the owner API: nothing read, nothing changed", async () => {
    await sleep(500); // anything in flight lands
    const text = JSON.stringify(loot);
    assert(!text.includes(MARK), "the private document's title reached a foreign page");
    assert(!text.includes("Team notes"), "the lan document's title reached a foreign page");
    assert(!text.includes(secret), "the private document's id reached a foreign page");
    const after = await api(T, "GET", "/_docs");
    assert(snapshot(after) === snapshot(docsBefore), `documents changed:\nbefore ${snapshot(docsBefore)}\nafter  ${snapshot(after)}`);
    assert(after.find((d) => d.id === secret)?.share === "private", "the private doc's policy changed");
    assert((await titleOf(secret)) === `${MARK} plans` && (await titleOf(lan)) === "Team notes", "a title changed");
    assert((await api(T, "GET", "/_remotes")).length === 0, "a remote was added");
    assert(
      attacker.seen.every((l) => l === "GET /" || l === "GET /favicon.ico"),
      `the attacker's server saw: ${attacker.seen.join(", ")}`,
    );
  });

  await check("the served UI on its own origin works after sign-in: who, create, type, listed", async () => {
    await home.goto(`${T.url}/_ui/`);
    await home.waitForSelector(`${tid("session")}:not([hidden])`);
    const who = await home.textContent(tid("session-name"));
    assert(who === "owner (owner)", `signed in as: ${who}`);
    await home.waitForSelector(`${tid("doc-item")}[data-doc-id="${secret}"]`); // the owner sees the private doc
    await home.click(tid("new-doc"));
    await home.fill(tid("prompt-input"), "Made in the browser");
    await home.click(tid("confirm-ok"));
    await home.waitForSelector(BODY);
    await home.click(BODY);
    await home.keyboard.press("Control+End");
    await home.keyboard.type("typed on its own origin");
    const id = decodeURIComponent(/#\/doc\/(.+)$/.exec(home.url())?.[1] ?? "");
    assert(id, `no document in the URL: ${home.url()}`);
    await home.waitForFunction(
      (id) =>
        document.querySelector(`[data-testid="doc-item"][data-doc-id="${id}"] .doc-item-title`)?.textContent === "Made in the browser",
      id,
    );
    await until(10_000, "the typing on the server", async () =>
      String((await api(T, "GET", `/${id}`))?.body).includes("typed on its own origin"),
    );
  });

  await check("signing out from the UI ends the session: the UI is behind sign-in again", async () => {
    await Promise.all([home.waitForURL(`${T.url}/_signin`), home.click(tid("sign-out"))]);
    // the page may come from the browser's cache; the UI then finds no session and goes to sign in
    await home.goto(`${T.url}/_ui/`);
    await home.waitForURL(`${T.url}/_signin`, { timeout: 10_000 });
    const s = await request(T, "GET", "/_session", {
      token: null,
      headers: { cookie: (await victim.cookies()).map((c) => `${c.name}=${c.value}`).join("; ") },
    });
    assert(s.json?.name === null, `the old cookie still signs in: ${s.text}`);
  });

  // ---- a token-gated server ----
  const secretHex = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const tokenFile = join(tempDir("tandem-e2e-tokens-"), "tokens");
  writeFileSync(tokenFile, `# team\nalice owner ${secretHex}\n`, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  const G = await serve("G", ["--token-file", tokenFile]);

  await check("token server: /_ui/ leads to sign-in; a wrong token is refused with a message", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${G.url}/_ui/`);
    assert(new URL(page.url()).pathname === "/_signin", `/_ui/ went to ${page.url()}`);
    const ended = await signIn(page, G, "0".repeat(32), { expectUi: false });
    assert(new URL(ended).pathname === "/_signin", `a wrong token ended at ${ended}`);
    const alert = await page.textContent('[role="alert"]');
    assert(/not valid/.test(alert ?? ""), `no error shown: ${alert}`);
    assert(
      (await ctx.cookies()).every((c) => !c.name.startsWith("tandem_session")),
      "a wrong token got a session",
    );
    await ctx.close();
  });

  await check("token server: the right token opens the UI; signed out elsewhere, the UI's next call goes to sign-in", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await signIn(page, G, secretHex);
    await page.waitForSelector(`${tid("session")}:not([hidden])`);
    assert((await page.textContent(tid("session-name"))) === "alice (owner)", "signed in as alice");
    await page.waitForFunction(() => /No documents yet/.test(document.querySelector(".list-empty")?.textContent ?? ""));
    // sign out in another tab of the same browser
    const other = await ctx.newPage();
    await other.goto(`${G.url}/_ui/`);
    await other.waitForSelector(`${tid("session")}:not([hidden])`);
    await Promise.all([other.waitForURL(`${G.url}/_signin`), other.click(tid("sign-out"))]);
    // the first tab's next API call answers 401: it goes to sign in (once, no loop)
    await page.click(tid("new-doc"));
    await page.fill(tid("prompt-input"), "after sign-out");
    await Promise.all([page.waitForURL(`${G.url}/_signin`, { timeout: 10_000 }), page.click(tid("confirm-ok"))]);
    assert((await api(G, "GET", "/_docs")).length === 0, "a document was created without a session");
    assert(errors.length === 0, errors.join("\n"));
    await ctx.close();
  });
} catch (e) {
  fail(`setup: ${e?.stack ?? e}`);
}
await finish();
