#!/usr/bin/env node
// Run before `npm run build`: refuses to rebuild dist/ while an `orchestrate up` / `orchestrate worker` of this
// checkout runs from it. The worker loads its workflow bundle and modules from dist/ as it goes (a new bundle
// is read on every start of a sandbox), so a rebuild under it mixes two versions. Reads the process table
// (Linux /proc); elsewhere it lets the build go ahead. ORCHESTRATE_FORCE_BUILD=1 builds anyway.
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
    `not rebuilding dist/: a worker of this checkout is running from it (${list}) — stop it first (\`kill ${running[0].pid}\`; it stops cleanly), or set ORCHESTRATE_FORCE_BUILD=1 to build anyway\n`,
  );
  process.exit(1);
}
