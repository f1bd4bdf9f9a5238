// Big and odd prompts end to end: any size and any bytes reach the agent, or the job fails with the fix.
import execa from 'execa';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jobResult, startJob } from '../src/temporal/client';
import { FAKE_CLAUDE, makeEnv, processesIn, REPO_ROOT, type TestEnv } from './helpers/env';
import { MissingSkillError, readSkills } from '../src/lib/skills';
import { MAX_ARG_BYTES, PROMPT_FILE, promptDelivery, promptTextProblem } from '../src/runner/invocation';

let env: TestEnv;

beforeAll(async () => {
  env = await makeEnv({
    projects: {
      big: '',
      codexish: `[projects.codexish.agent]\nprofile = "custom"\ncommand = "${FAKE_CLAUDE}"\nargs = ["-p", "{prompt}", "--output-format", "json"]`,
      embedded:
        '[projects.embedded.agent]\nargs = ["-p", "--append-system-prompt=x{prompt}", "--output-format", "json"]',
    },
  });
});
afterAll(async () => {
  const left = env ? processesIn(path.join(env.dir, 'projects')) : [];
  await env?.stop();
  expect(left).toEqual([]);
});

function marker(project: string): { prompt: string; argv: string[] } {
  return JSON.parse(readFileSync(path.join(env.projectPath(project), '.fake-claude-marker'), 'utf8'));
}

test('a 200 KB prompt (over the 128 KB per-argument limit) reaches the agent byte for byte, on stdin', async () => {
  const prompt = `[marker] big ünïcødé “prompt” $(x) \`y\`\n${'0123456789abcdef'.repeat((200 * 1024) / 16)} end`;
  expect(Buffer.byteLength(prompt)).toBeGreaterThan(MAX_ARG_BYTES);
  const r = await jobResult(
    (await startJob(env.client, env.config, { project: 'big', kind: 'run', prompt })).handle,
    'big',
  );
  expect(r.outcome).toBe('succeeded');
  const m = marker('big');
  expect(m.prompt).toBe(prompt);
  // Not in the command line: `-p` is followed by the next option.
  expect(m.argv).toEqual(['-p', '--output-format', 'json']);
  // The prompt file is the user's own, like the logs.
  const file = path.join(path.dirname(r.logPath), PROMPT_FILE);
  expect(statSync(file).mode & 0o777).toBe(0o600);
});

test('a prompt with a NUL byte reaches the agent byte for byte, on stdin', async () => {
  const prompt = '[marker] before\0after';
  const r = await jobResult(
    (await startJob(env.client, env.config, { project: 'big', kind: 'run', prompt })).handle,
    'big',
  );
  expect(r.outcome).toBe('succeeded');
  expect(marker('big').prompt).toBe(prompt);
});

test('a short prompt stays one argument', async () => {
  const r = await jobResult(
    (await startJob(env.client, env.config, { project: 'big', kind: 'run', prompt: '[marker] small' })).handle,
    'big',
  );
  expect(r.outcome).toBe('succeeded');
  expect(marker('big').argv).toEqual(['-p', '[marker] small', '--output-format', 'json']);
});

test('a profile that cannot read stdin: a too-big or NUL prompt is a setup error naming the limit and the fix', async () => {
  const big = 'x'.repeat(200 * 1024);
  const r = await jobResult(
    (await startJob(env.client, env.config, { project: 'codexish', kind: 'run', prompt: big })).handle,
    'codexish',
  );
  expect(r.outcome).toBe('setup_error');
  expect(r.message).toMatch(
    /codexish: the prompt is 200 KB, over Linux's limit of 128 KB for one command-line argument, and the "custom" agent profile cannot read its prompt from stdin — shorten it .*--prompt.*\[projects\.<name>\] prompt.*profile = "claude"/,
  );
  const nul = await jobResult(
    (await startJob(env.client, env.config, { project: 'codexish', kind: 'run', prompt: 'a\0b' })).handle,
    'codexish',
  );
  expect(nul.outcome).toBe('setup_error');
  expect(nul.message).toMatch(/the prompt holds a NUL byte.*remove the NUL byte/);
});

test('"{prompt}" inside another argument: a big prompt is a setup error naming [agent] args', async () => {
  const r = await jobResult(
    (await startJob(env.client, env.config, { project: 'embedded', kind: 'run', prompt: 'y'.repeat(130 * 1024) }))
      .handle,
    'embedded',
  );
  expect(r.outcome).toBe('setup_error');
  expect(r.message).toMatch(
    /"\{prompt\}" is one whole argument of \[agent\] args \(or \[projects\.embedded\.agent\] args\)/,
  );
});

test('promptDelivery: the limit is per argument, the prompt argument is left out for stdin', () => {
  const project = env.config.projects.big;
  expect(promptDelivery(project, 'z'.repeat(MAX_ARG_BYTES - 1)).viaStdin).toBe(false);
  expect(promptDelivery(project, 'z'.repeat(MAX_ARG_BYTES))).toEqual({
    args: ['-p', '--output-format', 'json'],
    viaStdin: true,
  });
});

test('--prompt with bytes that are not UTF-8: a usage error (exit 2) instead of a silently changed prompt', async () => {
  expect(promptTextProblem('ok', '--prompt')).toBeNull();
  const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
  // Raw bytes in argv: only a shell can pass them (Node encodes its arguments as UTF-8).
  const r = await execa('sh', ['-c', `node "${cli}" run -p big --prompt "$(printf 'caf\\351')"`], {
    env: env.cliEnv,
    reject: false,
  });
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toMatch(/--prompt holds bytes that are not valid UTF-8/);
});

test('an inline skill that is not UTF-8: an error naming the file instead of a silently changed prompt', async () => {
  const dir = path.join(env.projectPath('big'), '.claude', 'skills', 'latin1');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'SKILL.md'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  await expect(readSkills(env.projectPath('big'), ['latin1'])).rejects.toThrow(MissingSkillError);
  await expect(readSkills(env.projectPath('big'), ['latin1'])).rejects.toThrow(/SKILL\.md is not valid UTF-8 text/);
});
