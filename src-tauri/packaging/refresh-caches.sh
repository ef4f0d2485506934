#!/bin/sh
# After installing or removing the package: refresh the MIME and desktop-entry
# caches so that .automerge files and tandem:// links open in Tandem.
if command -v update-mime-database >/dev/null 2>&1; then update-mime-database /usr/share/mime || true; fi
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q /usr/share/applications || true; fi
exit 0
