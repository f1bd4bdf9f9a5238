// Live progress from the real Claude Code CLI (the pinned npm package), offline: the scripted Messages API has
// the model call a Bash tool that takes a while; while it runs, `orchestrate status --json` shows the turn and
// the tool in use, read off the CLI's real stream-json, and the job's current details in the Web UI say it too
// once the activity tells its workflow (at most every PROGRESS_DETAILS_EVERY_MS, none sooner). Then the job
// succeeds with the model's answer.
import execa from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROGRESS_DETAILS_EVERY_MS } from '../src/activities/attemptContext';
import { jobResult, startJob } from '../src/temporal/client';
import { REPO_ROOT, makeEnv, processesIn, waitFor, waitForDetails, type TestEnv } from './helpers/env';
import { startMessagesApi, steps, type MessagesApi } from './helpers/messagesApi';
import { claudeBinary, realAgentToml, removeHomes } from './helpers/realClaude';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
/** Long enough to outlast the first progress signal to the workflow, with room for a loaded machine. */
const SLEEP_S = Math.ceil(PROGRESS_DETAILS_EVERY_MS / 1000) + 15;
const COMMAND = `sleep ${SLEEP_S}`;
const ARGS = ['-p', '{prompt}', '--output-format', 'stream-json', '--verbose', '--allowedTools', 'Bash(sleep:*)'];

let env: TestEnv;
let api: MessagesApi;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  claudeBinary(); // a missing package fails here, with the fix, before any job runs
  api = await startMessagesApi(
    steps({ toolUse: { name: 'Bash', input: { command: COMMAND, description: 'Wait' } } }, { text: 'Slept well.' }),
  );
  env = await makeEnv({
    projects: { sleeper: realAgentToml('sleeper', { apiUrl: api.url, args: ARGS, timeout: '3m' }) },
    concurrency: 1,
  });
});

afterAll(async () => {
  const left = env ? processesIn(path.join(env.dir, 'projects')) : [];
  await env?.stop();
  await api?.close();
  removeHomes();
  expect(left).toEqual([]);
});

interface RunningJson {
  project: string;
  progress?: { turn?: number; tool?: string };
}

test('a long Bash call of the real CLI: status --json and the Web UI details show the turn and the tool; then success', async () => {
  const { handle } = await startJob(env.client, env.config, { project: 'sleeper', kind: 'run', prompt: 'Wait a bit.' });
  const running = await waitFor(
    `status --json to show Bash: ${COMMAND}`,
    async () => {
      const r = await execa('node', [CLI, 'status', '--json'], { env: env.cliEnv, reject: false, stdin: 'ignore' });
      const job = (JSON.parse(r.stdout) as { running: RunningJson[] }).running.find((j) => j.project === 'sleeper');
      return job?.progress?.tool === `Bash: ${COMMAND}` ? job : null;
    },
    60_000,
  );
  expect(running.progress).toMatchObject({ turn: 1, tool: `Bash: ${COMMAND}` });

  const details = await waitForDetails(handle, new RegExp(`Bash: ${COMMAND}`), PROGRESS_DETAILS_EVERY_MS + 15_000);
  expect(details).toMatch(
    new RegExp(`^running agent pid \\d+ in \\S+\\n\\nWait a bit\\.\\n\\nturn 1 · Bash: ${COMMAND}`),
  );

  const r = await jobResult(handle, 'sleeper');
  expect(r.outcome).toBe('succeeded');
  expect(r.result).toBe('Slept well.');
  expect(r.numTurns).toBe(2);
  expect(api.messageCalls()).toHaveLength(2);
}, 180_000);
