#!/bin/sh
# `npm start`: build (unless a worker of this checkout runs from dist/: then it is left alone), then become
# `node dist/cli.js up` (exec), so that the process npm waits on is node itself. npm passes SIGINT/SIGTERM on
# to its script's process; a shell in between would not pass them on to node, and `kill <npm's pid>` would
# leave the worker and the dev server running. `up` itself refuses to start a second time for a state folder.
# ORCHESTRATE_SKIP_BUILD=1 starts the dist/ that is there (a deploy that built it already).
set -e
cd "$(dirname "$0")/.."
if [ -z "${ORCHESTRATE_SKIP_BUILD:-}" ] && node scripts/build-guard.js; then npm run build; fi
exec node dist/cli.js up "$@"
