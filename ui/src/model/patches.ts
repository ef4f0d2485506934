// Decide whether a set of Automerge patches can be left entirely to the bound
// CodeMirror editors (edits inside text objects that have an editor), so the
// tree view does not need to be rebuilt. This keeps typing cheap: a keystroke
// (local or remote) never walks the whole document.
import type { A } from "../automerge";
import { isPrefix, type Path } from "./path";

const TEXT_EDIT_ACTIONS = new Set(["splice", "del", "insert", "mark", "unmark"]);

export function isTextOnlyChange(patches: readonly A.Patch[], textPaths: readonly Path[]): boolean {
  return patches.every((p) => {
    if (!TEXT_EDIT_ACTIONS.has(p.action)) return false;
    return textPaths.some((tp) => p.path.length === tp.length + 1 && isPrefix(tp, p.path) && typeof p.path[tp.length] === "number");
  });
}
