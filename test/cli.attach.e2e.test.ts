// A refused second batch says how to follow the running one, and that command works: the built dist/cli.js
// in a subprocess, no TTY.
import { makeEnv, type TestEnv } from './helpers/env';
import { requireBuiltCli, runCli } from './helpers/cli';

let env: TestEnv;

beforeAll(async () => {
  requireBuiltCli();
  // The job outlasts the refused start and the attach on a loaded machine (an attach once the cycle is over
  // would start a new one).
  env = await makeEnv({ projects: { attslow: '[projects.attslow.agent]\nenv = { FAKE_CLAUDE_SLEEP_MS = "8000" }' } });
});
afterAll(async () => env?.stop());

function cli(args: string[]) {
  return runCli(env.cliEnv, args);
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
