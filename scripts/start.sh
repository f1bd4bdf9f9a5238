#!/bin/sh
# `npm start`: build, then become `node dist/cli.js up` (exec), so that the process npm waits on is node
# itself. npm passes SIGINT/SIGTERM on to its script's process; a shell in between would not pass them on to
# node, and `kill <npm's pid>` would leave the worker and the dev server running.
set -e
cd "$(dirname "$0")/.."
npm run build
exec node dist/cli.js up "$@"
