// the styles, in cascade order (the colour tokens are linked by index.html)
import "./styles/layout.css";
import "./styles/sidebar.css";
import "./styles/controls.css";
import "./styles/document.css";
import "./styles/panels.css";
import "./styles/collab.css";
import { initAutomerge } from "./automerge";
import { pickBackend } from "./backend";
import { App } from "./ui/app";

async function main(): Promise<void> {
  const mount = document.getElementById("app")!;
  try {
    const [backend] = await Promise.all([pickBackend(), initAutomerge()]);
    const app = new App(backend, mount);
    (window as unknown as { tandem?: App }).tandem = app; // handy for debugging
    await app.start();
  } catch (e) {
    mount.textContent = "";
    const p = document.createElement("p");
    p.className = "boot-error";
    p.setAttribute("role", "alert");
    p.dataset.testid = "error-banner";
    p.textContent = `Tandem failed to start: ${(e as Error)?.message ?? e}`;
    mount.append(p);
    throw e;
  }
}

void main();
