// The git gate on real folders: a repo's top folder (no process needed), a folder inside a repo (asks git),
// a git worktree (`.git` is a file), and a plain folder (an error saying what to do).
import execa from 'execa';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decide } from '../src/gates';
import { parseConfig } from '../src/config';
import { makeRepo } from './helpers/env';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orch-gates-'));
  makeRepo(path.join(dir, 'top'));
  mkdirSync(path.join(dir, 'top', 'sub', 'deeper'), { recursive: true });
  execa.sync('git', ['worktree', 'add', '-q', '--detach', path.join(dir, 'worktree')], { cwd: path.join(dir, 'top') });
  mkdirSync(path.join(dir, 'plain'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function gitGate(folder: string) {
  const config = parseConfig(
    `[orchestrator]\nstate_dir = "${path.join(dir, 'state')}"\n[projects.p]\npath = "${path.join(dir, folder)}"\n`,
    path.join(dir, 'workspaces.toml'),
  );
  return decide(config.projects.p, { config, now: new Date(), isJobRunning: () => Promise.resolve(false) });
}

test.each(['top', 'top/sub/deeper', 'worktree'])('%s is a git repository: the job runs', async (folder) => {
  expect(await gitGate(folder)).toEqual({ project: 'p', decision: 'run', gate: 'all', reason: 'all gates passed' });
});

test('a plain folder: a gate error saying what to do', async () => {
  expect(await gitGate('plain')).toEqual({
    project: 'p',
    decision: 'error',
    gate: 'git',
    reason: `${path.join(dir, 'plain')} is not a git repository — jobs need one (git init, or fix the path)`,
  });
});
