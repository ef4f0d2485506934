// "Open from server…" takes a whole `tandem://open?url=…&fp=…` link in its
// URL field: pasting one fills in the document URL and the certificate
// fingerprint (so does leaving the field after typing one). A link that
// cannot be parsed stays as typed, and submitting it says what is wrong.
import { isTandemLink, parseTandemLink } from "../model/tandemlink";

/**
 * Makes `url` accept Tandem links, filling `fingerprint` from them. Returns
 * `expand()`, to call before reading the fields: it expands a link still in
 * the field and throws an Error (with the reason) for a bad one.
 */
export function acceptTandemLinks(url: HTMLInputElement, fingerprint: HTMLInputElement): () => void {
  const expand = (strict: boolean) => {
    if (!isTandemLink(url.value)) return;
    try {
      const link = parseTandemLink(url.value);
      url.value = link.url;
      if (link.fingerprint) fingerprint.value = link.fingerprint;
    } catch (e) {
      if (strict) throw e;
    }
  };
  // Not on every keystroke: a link typed by hand parses before its `&fp=` is there.
  url.addEventListener("paste", () => setTimeout(() => expand(false), 0));
  url.addEventListener("change", () => expand(false));
  return () => expand(true);
}
