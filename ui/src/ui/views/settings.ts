// The settings dialog: your name (presence), the data folder, the embedded
// server, the version and backend, and (desktop app) the local network.
import type { LanStatus } from "../../backend/types";
import { myProfile, setMyName } from "../../state/presence";
import { errorMessage, type Store } from "../../state/store";
import { openDialog } from "../dialogs";
import { h, setText } from "../dom";

/** Opens the settings; resolves when they are closed. */
export async function showSettings(store: Store): Promise<void> {
  const backend = store.backend;
  const health = store.health.peek();
  const listen = h("code", { testid: "settings-listen" }, health?.listen ?? "…");
  const version = h("span", { testid: "settings-version" }, health?.version ?? "…");
  const dataDir = h("code", { testid: "settings-data-dir" }, health?.data_dir ?? "…");
  const openFolder = backend.openDataFolder
    ? h(
        "button",
        {
          type: "button",
          class: "btn small",
          testid: "open-data-folder",
          onclick: () => void backend.openDataFolder?.().catch((e) => store.showError(`Could not open the folder: ${errorMessage(e)}`)),
        },
        "Open folder",
      )
    : null;
  const me = myProfile();
  const nameInput = h("input", {
    type: "text",
    testid: "settings-name",
    value: me.name,
    "aria-label": "Your name, as others see it",
    autocomplete: "off",
    onchange: () => setMyName(nameInput.value),
  }) as HTMLInputElement;
  const dl = h(
    "dl",
    { class: "settings-list" },
    h("dt", null, "Your name"),
    h("dd", null, h("span", { class: "profile-swatch", style: `background:${me.color}`, "aria-hidden": "true" }), " ", nameInput),
    h("dt", null, "Data folder"),
    h("dd", null, dataDir, openFolder ? " " : null, openFolder),
    h("dt", null, "Embedded server"),
    h("dd", null, listen),
    h("dt", null, "Version"),
    h("dd", null, version),
    h("dt", null, "Backend"),
    h("dd", null, backend.kind === "tauri" ? "Desktop app (Tauri)" : `HTTP (${location.origin})`),
  );
  const lan = backend.lanStatus ? lanSettings(store) : null;
  const dialog = openDialog({
    title: "Settings",
    body: [h("div", { testid: "settings-panel" }, dl, ...(lan ? [lan] : []))],
    okLabel: "Close",
    hideCancel: true,
    testid: "settings-dialog",
  });
  const fresh = await store.loadHealth(true);
  setText(listen, fresh?.listen ?? "unavailable");
  setText(dataDir, fresh?.data_dir ?? "not shown (only the owner sees it)");
  setText(version, fresh?.version ?? "unavailable");
  await dialog;
}

/** The desktop app's "Local network" settings: presence, discovery, name. */
function lanSettings(store: Store): HTMLElement {
  const backend = store.backend;
  const state = h("p", { class: "lan-state", testid: "lan-state", "aria-live": "polite" }, "…");
  const enabled = h("input", { type: "checkbox", testid: "lan-enabled", name: "lan-enabled" }) as HTMLInputElement;
  const discovery = h("input", { type: "checkbox", testid: "lan-discovery", name: "lan-discovery" }) as HTMLInputElement;
  const name = h("input", { type: "text", testid: "lan-name", name: "lan-name", autocomplete: "off" }) as HTMLInputElement;
  const show = (s: LanStatus) => {
    enabled.checked = s.enabled;
    discovery.checked = s.discovery;
    if (document.activeElement !== name) name.value = s.name;
    setText(
      state,
      s.listening
        ? `On the network at ${s.url ?? "?"}${s.presence ? `, visible as “${s.presence.name}”` : " (not advertised)"}.`
        : "Not on the network: nothing is shared.",
    );
  };
  const apply = async (change: Partial<Pick<LanStatus, "enabled" | "discovery" | "name">>) => {
    try {
      if (backend.setLanSettings) show(await backend.setLanSettings(change));
    } catch (e) {
      store.showError(`Could not change the network settings: ${errorMessage(e)}`);
    }
  };
  enabled.onchange = () => void apply({ enabled: enabled.checked });
  discovery.onchange = () => void apply({ discovery: discovery.checked });
  name.onchange = () => void apply({ name: name.value });
  void backend.lanStatus?.().then(show, (e) => store.showError(`Could not read the network settings: ${errorMessage(e)}`));
  return h(
    "fieldset",
    { class: "lan-settings", testid: "lan-settings" },
    h("legend", null, "Local network"),
    state,
    h("label", null, enabled, " Stay on the network even when nothing is shared"),
    h("label", null, discovery, " Find peers and be found (mDNS)"),
    h("label", null, "Name others see ", name),
    h(
      "p",
      { class: "hint" },
      "Only documents you share are visible to others; the app listens on the network only while something is shared or you turn it on here.",
    ),
  );
}
