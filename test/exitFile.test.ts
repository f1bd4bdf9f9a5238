// The wrapper's exit record: written in place by `sh` builtins alone, and read only once its line is complete.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT_FILE, WRAPPER, readExitFile } from '../src/runner/runFolder';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orch-exit-file-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a record cut short (created, not yet or never written) counts as none', () => {
  for (const text of ['', '0', '  ']) {
    writeFileSync(path.join(dir, EXIT_FILE), text);
    expect(readExitFile(dir)).toBeNull();
  }
  writeFileSync(path.join(dir, EXIT_FILE), '0\n');
  expect(readExitFile(dir)).toEqual({ exitCode: 0, signal: null });
  writeFileSync(path.join(dir, EXIT_FILE), '137\n');
  expect(readExitFile(dir)).toEqual({ exitCode: null, signal: 'SIGKILL' });
});

test('the wrapper records the agent status, passes its arguments untouched and exits with it', () => {
  const exitFile = path.join(dir, 'wrapped', EXIT_FILE);
  execFileSync('mkdir', ['-p', path.dirname(exitFile)]);
  const run = spawnSync(
    '/bin/sh',
    ['-c', WRAPPER, 'orchestrate-agent', '/bin/sh', '-c', 'printf "%s|" "$@"; exit 5', 'agent', 'a b', '$HOME', '"q"'],
    { env: { PATH: process.env.PATH, ORCHESTRATE_EXIT_FILE: exitFile }, encoding: 'utf8' },
  );
  expect(run.status).toBe(5);
  expect(run.stdout).toBe('a b|$HOME|"q"|');
  expect(readExitFile(path.dirname(exitFile))).toEqual({ exitCode: 5, signal: null });
});
