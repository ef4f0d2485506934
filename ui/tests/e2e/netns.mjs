// Two network namespaces joined by a veth pair, made (and removed) by an e2e
// script, with `tandem serve --mdns` inside them: the only place mDNS runs in
// the tests. Used by lan-peers.mjs; needs root and `ip netns`.
//
//   const lan = lanPair(workDir); lan.makeNetwork(); const alice = await lan.startServer("a", "alice");
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { onCleanup, stopProcess, tandemBin, uiDir } from "./harness.mjs";

/**
 * Names, helpers and clean-up for two namespaces `a` and `b` (alice and bob)
 * whose data directories live under `work`; nothing is made until
 * `makeNetwork()`. Clean-up stops the servers, then deletes the namespaces.
 */
export function lanPair(work) {
  const pid = process.pid;
  const tag = `tlp${pid % 100000}`; // ≤ 8 chars, so interface names stay ≤ 15
  const ns = { a: `${tag}a`, b: `${tag}b` };
  const veth = { a: `${tag}va`, b: `${tag}vb` };
  const subnet = `10.${230 + (pid % 10)}.${Math.floor(pid / 10) % 250}`;
  const addr = { a: `${subnet}.1`, b: `${subnet}.2` };
  const dataDir = { a: join(work, "alice"), b: join(work, "bob") };
  const madeNamespaces = [];
  const servers = new Set();

  /** Env for every tandem run except the two servers: mDNS off. */
  const quietEnv = { ...process.env, TANDEM_NO_MDNS: "1", RUST_LOG: "warn" };

  function sh(cmd, args, { timeout = 30_000, env = quietEnv } = {}) {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout, env, stdio: ["ignore", "pipe", "pipe"] });
    if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  /** Runs the tandem CLI inside a namespace (mDNS off). */
  function tandemIn(nsName, args, timeout = 40_000) {
    return sh("ip", ["netns", "exec", nsName, tandemBin, ...args], { timeout });
  }

  /** The owner token of a side's data directory (written by its server at start). */
  const ownerToken = (side) => readFileSync(join(dataDir[side], "owner-token"), "utf8").trim();
  const sideOf = (nsName) => (nsName === ns.a ? "a" : "b");

  /** An owner request to the server of a namespace (loopback, plain HTTP, its owner token). */
  function apiIn(nsName, path, { method = "GET", body } = {}) {
    const auth = `authorization: Bearer ${ownerToken(sideOf(nsName))}`;
    const args = [
      "netns",
      "exec",
      nsName,
      "curl",
      "-s",
      "-m",
      "5",
      "-H",
      auth,
      "-w",
      "\n%{http_code}",
      "-X",
      method,
      `http://127.0.0.1:7450${path}`,
    ];
    if (body !== undefined) args.push("-H", "content-type: application/json", "-d", JSON.stringify(body));
    const out = sh("ip", args, { timeout: 10_000 });
    const i = out.lastIndexOf("\n");
    const status = Number(out.slice(i + 1));
    const text = out.slice(0, i);
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status, json, text };
  }

  async function stopServer(s) {
    if (!s || s.exited) return;
    await stopProcess(s.child);
    servers.delete(s);
  }

  // clean-up (after the browser closes): our servers, then our namespaces
  onCleanup(() => {
    for (const n of madeNamespaces.reverse()) {
      // anything still inside our namespace is ours: SIGKILL it before deleting
      const pids = spawnSync("ip", ["netns", "pids", n], { encoding: "utf8", timeout: 5000 }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (const p of pids) {
        try {
          process.kill(Number(p), "SIGKILL");
        } catch {
          /* gone */
        }
      }
      spawnSync("ip", ["netns", "del", n], { timeout: 10_000 });
    }
    madeNamespaces.length = 0;
  });
  onCleanup(() => Promise.all([...servers].map((s) => stopServer(s))));

  function linkNames(nsName) {
    return sh("ip", ["-n", nsName, "-o", "link"])
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(": ")[1]?.split("@")[0]);
  }

  function makeNetwork() {
    const existing = sh("ip", ["netns", "list"]);
    for (const n of Object.values(ns)) {
      if (existing.split("\n").some((l) => l.split(" ")[0] === n)) throw new Error(`namespace ${n} already exists`);
    }
    for (const side of ["a", "b"]) {
      sh("ip", ["netns", "add", ns[side]]);
      madeNamespaces.push(ns[side]);
      sh("ip", ["-n", ns[side], "link", "set", "lo", "up"]);
    }
    // created directly inside the two namespaces: never in the machine's own
    sh("ip", ["link", "add", veth.a, "netns", ns.a, "type", "veth", "peer", "name", veth.b, "netns", ns.b]);
    for (const side of ["a", "b"]) {
      sh("ip", ["-n", ns[side], "addr", "add", `${addr[side]}/24`, "dev", veth[side]]);
      sh("ip", ["-n", ns[side], "link", "set", veth[side], "up"]);
    }
    for (const side of ["a", "b"]) {
      const names = linkNames(ns[side]);
      if (JSON.stringify(names) !== JSON.stringify(["lo", veth[side]]))
        throw new Error(`namespace ${ns[side]} holds unexpected interfaces: ${names.join(", ")}`);
    }
    // the link has carrier on both ends before anyone advertises
    const deadline = Date.now() + 10_000;
    const up = (side) => {
      const l = sh("ip", ["-n", ns[side], "-o", "link", "show", "dev", veth[side]]);
      return l.includes("LOWER_UP") && !l.includes("NO-CARRIER");
    };
    while (!(up("a") && up("b"))) {
      if (Date.now() > deadline) throw new Error("the veth link did not come up");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }

  /** `tandem serve --mdns` inside a namespace we made (the only processes without TANDEM_NO_MDNS). */
  function startServer(side, name) {
    const names = linkNames(ns[side]);
    if (JSON.stringify(names) !== JSON.stringify(["lo", veth[side]]))
      throw new Error(`refusing to start mDNS: namespace ${ns[side]} holds ${names.join(", ")}`);
    const env = { ...process.env, RUST_LOG: "warn" };
    delete env.TANDEM_NO_MDNS;
    const spawnedAt = performance.now();
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        ns[side],
        tandemBin,
        "serve",
        "--mdns",
        "--listen",
        "0.0.0.0:7450",
        "--data-dir",
        dataDir[side],
        "--ui-dir",
        uiDir,
        "--name",
        name,
      ],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    const s = { child, name, side, exited: false, spawnedAt, readyAt: 0, id: "", fingerprint: "", stderr: [] };
    servers.add(s);
    child.on("exit", () => {
      s.exited = true;
      s.exitedAt = performance.now();
    });
    createInterface({ input: child.stderr }).on("line", (l) => {
      s.stderr.push(l);
      if (s.stderr.length > 50) s.stderr.shift();
    });
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`${name} did not start within 20 s:\n${s.stderr.join("\n")}`)), 20_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        rej(new Error(`${name} exited with ${code}:\n${s.stderr.join("\n")}`));
      });
      createInterface({ input: child.stdout }).on("line", (line) => {
        const fp = /^TLS certificate SHA-256 fingerprint: (\S+)/.exec(line);
        if (fp) s.fingerprint = fp[1];
        const lan = /^LAN discovery: on, as .* \(peer id (\S+)\)$/.exec(line);
        if (lan) s.id = lan[1];
        if (line.startsWith("Data directory:")) {
          clearTimeout(timer);
          if (!s.id) return rej(new Error(`${name} started without LAN discovery`));
          s.readyAt = performance.now();
          res(s);
        }
      });
    });
  }

  return { pid, ns, veth, addr, dataDir, quietEnv, sh, tandemIn, ownerToken, apiIn, stopServer, makeNetwork, startServer };
}
