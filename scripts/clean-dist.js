// Builds start from an empty output folder (dist/ by default, or the one named): tsc never deletes the output of
// a source file that was moved or removed, and a stale dist/config.js shadows dist/config/index.js (Node
// resolves `../config` to the file first), so a checkout updated across a rename would run old code next to new.
const { rmSync } = require('node:fs');
const path = require('node:path');

rmSync(path.join(__dirname, '..', process.argv[2] ?? 'dist'), { recursive: true, force: true });
