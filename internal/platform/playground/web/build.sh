#!/bin/sh
# Rebuilds the GraphiQL bundle that the Go package embeds:
#   ../assets/graphiql.js, ../assets/graphiql.css and ../assets/licenses.txt
# from main.jsx and main.css, with the exact package versions in
# package-lock.json. Needs Node 20+ and npm (and the npm registry for npm ci).
set -eu
cd "$(dirname "$0")"

npm ci --no-audit --no-fund

meta="$(mktemp)"
trap 'rm -f "$meta"' EXIT

./node_modules/.bin/esbuild main.jsx \
  --bundle \
  --minify \
  --format=iife \
  --platform=browser \
  --target=es2020,chrome100,firefox100,safari15 \
  --jsx=automatic \
  --alias:react-style-singleton=./shims/react-style-singleton.js \
  --define:process.env.NODE_ENV='"production"' \
  --legal-comments=none \
  --banner:js='/*! auditgraph GraphiQL bundle. Third-party licenses: /graphiql/assets/licenses.txt */' \
  --banner:css='/*! auditgraph GraphiQL bundle. Third-party licenses: /graphiql/assets/licenses.txt */' \
  --metafile="$meta" \
  --log-level=warning \
  --outfile=../assets/graphiql.js

node licenses.mjs "$meta" > ../assets/licenses.txt

ls -l ../assets
