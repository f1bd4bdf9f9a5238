#!/usr/bin/env node
// Asked by `npm start` before it builds: exits 1 (and says why) while an `orchestrate up` / `orchestrate worker`
// of this checkout runs from dist/, so a second `npm start` does not rebuild under the running worker (whose
// modules are loaded from dist/ as they are first needed). A deploy still builds with `npm run build` and then
// restarts the worker. Reads the process table (Linux /proc); elsewhere it says nothing is running.
// ORCHESTRATE_FORCE_BUILD=1 lets the build go ahead anyway.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const checkout = path.resolve(__dirname, '..');
const entryPoints = [path.join(checkout, 'dist', 'cli.js'), path.join(checkout, 'dist', 'worker.js')];

/** Processes running this checkout's dist/cli.js up|worker or dist/worker.js: [{ pid, args }]. */
function workersOfThisCheckout() {
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const found = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0])) continue;
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!/(^|\/)node$/.test(args[0] ?? '')) continue;
      const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      const script = args.findIndex((a, i) => i > 0 && entryPoints.includes(path.resolve(cwd, a)));
      if (script < 0) continue;
      const isCli = path.resolve(cwd, args[script]) === entryPoints[0];
      if (isCli && !args.slice(script + 1).some((a) => a === 'up' || a === 'worker')) continue;
      found.push({ pid: Number(entry), args: args.join(' ') });
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return found;
}

const running = workersOfThisCheckout();
if (running.length && process.env.ORCHESTRATE_FORCE_BUILD !== '1') {
  const list = running.map((p) => `pid ${p.pid}: ${p.args}`).join('; ');
  process.stderr.write(
    `not rebuilding dist/: a worker of this checkout is running from it (${list}); stop it first (\`kill ${running[0].pid}\`) to rebuild, or set ORCHESTRATE_FORCE_BUILD=1\n`,
  );
  process.exit(1);
}
