// A refused second batch says how to follow the running one, and that command works: the built dist/cli.js
// in a subprocess, no TTY.
import execa from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { makeEnv, REPO_ROOT, type TestEnv } from './helpers/env';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
let env: TestEnv;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  env = await makeEnv({ projects: { attslow: '[projects.attslow.agent]\nenv = { FAKE_CLAUDE_SLEEP_MS = "4000" }' } });
});
afterAll(async () => env?.stop());

function cli(args: string[]) {
  return execa('node', [CLI, ...args], { env: env.cliEnv, reject: false, stdin: 'ignore' });
}

test('cycle while a cycle runs: exit 3 with a hint; the hinted --attach follows it to its result', async () => {
  expect((await cli(['cycle'])).exitCode).toBe(0);
  const refused = await cli(['cycle', '--wait']);
  expect(refused.exitCode).toBe(3);
  const hint = /follow it with `(orchestrate [^`]+)`/.exec(refused.stderr)?.[1];
  expect(hint).toBe('orchestrate cycle --attach');
  const attached = await cli([...hint!.split(' ').slice(1), '--json']);
  expect(attached.exitCode).toBe(0);
  expect(JSON.parse(attached.stdout).rows).toEqual([
    expect.objectContaining({ project: 'attslow', decision: 'run', status: 'succeeded' }),
  ]);
});
