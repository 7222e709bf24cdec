#!/usr/bin/env bash
# Print the Debian packages WeasyPrint (the PDF invoices) needs that are missing, one per
# line: Pango with its FreeType backend (which bring GLib, HarfBuzz and fontconfig), and a
# font covering Latin, Greek, Cyrillic, Hebrew and Arabic. Prints nothing when all are there.
# Used by scripts/test.sh and scripts/demo.sh.
set -euo pipefail
libs=$( { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null || true; } )
grep -q 'libpango-1\.0\.so\.0' <<<"$libs" || echo libpango-1.0-0
grep -q 'libpangoft2-1\.0\.so\.0' <<<"$libs" || echo libpangoft2-1.0-0
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || echo fonts-dejavu-core
