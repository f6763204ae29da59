#!/usr/bin/env bash
# Print the first Debian mirror apt is configured with for a suite: apt-mirror.sh SUITE [APT_ETC]
# Reads APT_ETC/sources.list, sources.list.d/*.list (one-line format) and sources.list.d/*.sources (deb822),
# the files apt itself reads (default APT_ETC=/etc/apt). Exit 1 when none serves the suite.
set -euo pipefail
suite="$1"
etc="${2:-/etc/apt}"
shopt -s nullglob
found=""
# One-line format: deb [options] URI SUITE COMPONENT...
for f in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
  [[ -f "$f" ]] || continue
  found="$(awk -v suite="$suite" '
    $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                  if ($(i + 1) == suite) { print $i; exit } }' "$f")"
  [[ -z "$found" ]] || { echo "$found"; exit 0; }
done
# deb822 format: stanzas of Types, URIs, Suites (Enabled: no skips one), separated by blank lines.
for f in "$etc"/sources.list.d/*.sources; do
  found="$(awk -v suite="$suite" '
    function flush() { if (deb && on && hit && uri != "") { print uri; done = 1; exit } deb = 0; hit = 0; uri = ""; on = 1 }
    BEGIN { on = 1 }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]*#/ { next }
    tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
    tolower($1) == "uris:" { uri = $2 }
    tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
    tolower($1) == "enabled:" && tolower($2) == "no" { on = 0 }
    END { if (!done) flush() }' "$f")"
  [[ -z "$found" ]] || { echo "$found"; exit 0; }
done
exit 1
