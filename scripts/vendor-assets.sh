#!/usr/bin/env bash
# Copy the npm-installed front-end files (htmx and its SSE extension) into the package's static
# folder, where the app serves them (no CDN). Run after `npm ci`; the Makefile does.
# The pages work without these files (server-rendered, with a plain-JavaScript fallback).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=src/callbot/web/static/vendor
mkdir -p "$dest"
for f in node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-sse/dist/sse.min.js; do
  if [ ! -f "$f" ]; then
    echo "vendor-assets: $f is missing: run 'npm ci' first" >&2
    exit 1
  fi
done
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx.min.js"
cp node_modules/htmx-ext-sse/dist/sse.min.js "$dest/htmx-sse.min.js"
cp node_modules/htmx.org/LICENSE "$dest/htmx.LICENSE" 2>/dev/null || true
echo "vendor-assets: htmx $(node -p "require('./node_modules/htmx.org/package.json').version") and sse extension copied to $dest"
