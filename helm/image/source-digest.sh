#!/usr/bin/env bash
# Print one sha256 over everything the image installs from this checkout: pyproject.toml and the four packages
# (file names and contents, caches excluded). build.sh writes it into the image as the label
# org.hds.source-digest; the kube smoke rebuilds an image whose label differs, so it never plays stale code.
set -euo pipefail
cd "$(dirname "$0")/../.."
{
  find gateway catalog deid policies -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum
  sha256sum pyproject.toml
} | sha256sum | cut -d' ' -f1
