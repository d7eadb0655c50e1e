#!/bin/sh
# Rebuilds the dashboard bundle that the Go package embeds:
#   ../assets/app.js, ../assets/app.css, ../assets/boot.js (the early script
#   that sends a page's first GraphQL requests while app.js loads; no
#   third-party code), ../assets/licenses.txt and
#   ../assets/inputs.sha256 (the hash of this folder's inputs; a Go test
#   recomputes it, so a change to src/ or the lockfile without a rebuild fails)
# from src/, with the exact package versions in package-lock.json.
# Needs Node 20+ and npm (and the npm registry for npm ci).
set -eu
cd "$(dirname "$0")"

npm ci --no-audit --no-fund

# Type-check first: esbuild strips types without checking them.
./node_modules/.bin/tsc --noEmit -p tsconfig.json

meta="$(mktemp)"
trap 'rm -f "$meta"' EXIT

# ES modules, split: app.js (the entry) and chunks named by their content
# hash (the activity views with uPlot load only on pages that show them).
rm -f ../assets/*-*.js
./node_modules/.bin/esbuild app=src/main.tsx \
  --bundle \
  --splitting \
  --minify \
  --format=esm \
  --platform=browser \
  --target=es2020,chrome100,firefox100,safari15 \
  --jsx=automatic \
  --jsx-import-source=preact \
  --legal-comments=none \
  --banner:js='/*! auditgraph dashboard. Third-party licenses: /ui/licenses.txt */' \
  --banner:css='/*! auditgraph dashboard. Third-party licenses: /ui/licenses.txt */' \
  --metafile="$meta" \
  --log-level=warning \
  --outdir=../assets \
  --entry-names='[name]' \
  --chunk-names='[name]-[hash]'

./node_modules/.bin/esbuild src/boot.ts \
  --bundle \
  --minify \
  --format=iife \
  --platform=browser \
  --target=es2020,chrome100,firefox100,safari15 \
  --legal-comments=none \
  --log-level=warning \
  --outfile=../assets/boot.js

node licenses.mjs "$meta" > ../assets/licenses.txt

# The inputs' hash, as dashboard_test.go computes it: sha256sum lines of
# these files (fixed ones first, then src/ in byte order), hashed again.
{
  for f in build.sh licenses.mjs package.json package-lock.json tsconfig.json; do echo "$f"; done
  find src -type f | LC_ALL=C sort
} | while read -r f; do sha256sum "$f"; done | sha256sum | cut -d' ' -f1 > ../assets/inputs.sha256

ls -l ../assets
for f in ../assets/*.js; do f=${f#../assets/}
  gzip -9 -c ../assets/$f | wc -c | awk -v f=$f '{printf "%s gzipped: %d bytes\n", f, $1}'
done
