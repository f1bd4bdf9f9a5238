// Drives test/fixtures/fake-claude.js as a real process, for every scenario, and feeds what it really
// printed (stdout bytes, exit code, signal, stderr) into parseAgentOutput.
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAgentOutput, type ParsedOutput, type ResultFormat } from '../src/agents/result';
import { liveProcess } from './helpers/process';

const FAKE = path.resolve(__dirname, 'fixtures', 'fake-claude.js');

interface Run {
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  pid: number;
  ms: number;
}

/** Process groups started by this suite: all SIGKILLed at the end, so nothing is left running. */
const groups = new Set<number>();
let tmp: string;

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FAKE_CLAUDE_')) env[k] = v;
  return { ...env, ...extra };
}

interface RunOpts {
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string;
  /** Called once the process started (e.g. to signal it). */
  onStart?: (pid: number) => void;
  /** Called with everything it printed on stdout so far, after each chunk. */
  onStdout?: (soFar: string) => void;
  timeoutMs?: number;
}

function run(args: string[], opts: RunOpts = {}): Promise<Run> {
  const started = Date.now();
  const child = spawn(FAKE, args, {
    cwd: opts.cwd ?? tmp,
    env: baseEnv(opts.env ?? {}),
    // Its own process group, like the orchestrator starts it.
    detached: true,
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const pid = child.pid ?? -1;
  if (pid > 0) groups.add(pid);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => {
    out.push(c);
    opts.onStdout?.(Buffer.concat(out).toString('utf8'));
  });
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  opts.onStart?.(pid);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(pid);
      reject(new Error(`fake-claude ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 20000} ms`));
    }, opts.timeoutMs ?? 20000);
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode,
        signal,
        pid,
        ms: Date.now() - started,
      });
    });
  });
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function parseRun(
  r: Run,
  format: ResultFormat = 'auto',
  over: { headTruncated?: boolean; now?: Date } = {},
): ParsedOutput {
  return parseAgentOutput({
    stdout: r.stdout,
    headTruncated: over.headTruncated ?? false,
    stderrTail: r.stderr,
    exitCode: r.exitCode,
    signal: r.signal,
    project: 'fakeproj',
    format,
    now: over.now ?? new Date(),
  });
}

/** The pids in a pids file once it has at least `n` of them. */
function readPids(file: string, n: number): number[] | null {
  if (!existsSync(file)) return null;
  const list = readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  return list.length >= n ? list : null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(fn: () => T | null | undefined | false, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'fake-claude-'));
});

afterEach(async () => {
  for (const g of groups) killGroup(g);
  groups.clear();
  await fs.rm(tmp, { recursive: true, force: true });
});

const JSON_ARGS = ['--output-format', 'json'];
const STREAM_ARGS = ['--output-format', 'stream-json', '--verbose'];

describe('fake claude: formats', () => {
  it('text (default): just the result text, exit 0', async () => {
    const r = await run(['-p', 'write the summary']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe('Done: write the summary\n');
    const p = parseRun(r, 'text');
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('Done: write the summary');
  });

  it('json: a single result object with the real shape', async () => {
    const prompt = 'a prompt that is longer than sixty characters, to check the cut in the result text';
    const r = await run(['-p', prompt, ...JSON_ARGS]);
    expect(r.exitCode).toBe(0);
    const obj = JSON.parse(r.stdout.toString()) as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual([
      'type',
      'subtype',
      'is_error',
      'duration_ms',
      'duration_api_ms',
      'num_turns',
      'result',
      'stop_reason',
      'session_id',
      'total_cost_usd',
      'usage',
      'modelUsage',
      'permission_denials',
      'uuid',
    ]);
    expect(obj).toMatchObject({
      type: 'result',
      subtype: 'success',
      is_error: false,
      num_turns: 3,
      result: `Done: ${prompt.slice(0, 60)}`,
      stop_reason: null,
      total_cost_usd: 0.0123,
      usage: { input_tokens: expect.any(Number), output_tokens: expect.any(Number), cache_creation_input_tokens: 0 },
      modelUsage: {},
      permission_denials: [],
    });
    expect(obj.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const p = parseRun(r, 'json');
    expect(p).toMatchObject({ outcome: 'succeeded', costUsd: 0.0123, numTurns: 3, sessionId: obj.session_id });
  });

  it('json with --verbose: a JSON array, result last', async () => {
    const r = await run(['-p', 'hi', ...JSON_ARGS, '--verbose']);
    const arr = JSON.parse(r.stdout.toString()) as Array<Record<string, unknown>>;
    expect(Array.isArray(arr)).toBe(true);
    expect(arr[0]).toMatchObject({ type: 'system', subtype: 'init' });
    expect(arr.some((m) => m.type === 'assistant')).toBe(true);
    expect(arr[arr.length - 1]).toMatchObject({ type: 'result', subtype: 'success' });
    expect(parseRun(r, 'json').outcome).toBe('succeeded');
  });

  it('stream-json: init line, assistant lines, result line', async () => {
    const r = await run(['-p', 'hi', ...STREAM_ARGS, '--session-id', '11111111-2222-4333-8444-555555555555']);
    const lines = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      type: 'system',
      subtype: 'init',
      cwd: tmp,
      session_id: '11111111-2222-4333-8444-555555555555',
      mcp_servers: [],
      permissionMode: 'default',
      claude_code_version: expect.any(String),
    });
    expect(lines[0].tools).toEqual(expect.arrayContaining(['Bash', 'Read']));
    expect(lines.slice(1, -1).every((m) => m.type === 'assistant' || m.type === 'user')).toBe(true);
    expect(lines[lines.length - 1]).toMatchObject({
      type: 'result',
      session_id: '11111111-2222-4333-8444-555555555555',
    });
    const p = parseRun(r, 'stream-json');
    expect(p.outcome).toBe('succeeded');
    expect(p.sessionId).toBe('11111111-2222-4333-8444-555555555555');
  });

  it('reads the prompt from stdin when none is given', async () => {
    const r = await run(['-p', ...JSON_ARGS], { stdin: 'prompt from stdin\n' });
    expect(parseRun(r).result).toBe('Done: prompt from stdin');
  });

  it('accepts every real flag with its value', async () => {
    const r = await run([
      '-p',
      'all flags',
      '--output-format',
      'json',
      '--max-turns',
      '30',
      '--max-budget-usd',
      '2.5',
      '--model',
      'opus',
      '--fallback-model',
      'sonnet',
      '--allowedTools',
      'Bash(git log:*)',
      'Read',
      '--allowed-tools',
      'Edit',
      '--disallowedTools',
      'WebFetch',
      '--permission-mode',
      'acceptEdits',
      '--dangerously-skip-permissions',
      '--append-system-prompt',
      'Be brief.',
      '--resume',
      'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
      '--continue',
      '--mcp-config',
      'mcp.json',
      '--json-schema',
      '{"type":"object"}',
      '--settings',
      'settings.json',
      '--session-id',
      '11111111-2222-4333-8444-555555555555',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(parseRun(r)).toMatchObject({ outcome: 'succeeded', sessionId: '11111111-2222-4333-8444-555555555555' });
  });
});

describe('fake claude: command-line errors', () => {
  it('unknown option → exit 1 with commander’s message', async () => {
    const r = await run(['-p', 'x', '--foo']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe("error: unknown option '--foo'\n");
    expect(r.stdout.length).toBe(0);
    expect(parseRun(r).outcome).toBe('crashed');
  });

  it('stream-json without --verbose → exit 1 with the real message', async () => {
    const r = await run(['-p', 'x', '--output-format', 'stream-json']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('Error: When using --print, --output-format=stream-json requires --verbose\n');
    const p = parseRun(r, 'stream-json');
    expect(p.outcome).toBe('crashed');
    expect(p.message).toContain('requires --verbose');
  });

  it('an invalid --output-format is rejected', async () => {
    const r = await run(['-p', 'x', '--output-format', 'xml']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("argument 'xml' is invalid");
  });

  it('like the real CLI, a variadic --allowedTools swallows a prompt placed after it', async () => {
    const r = await run(['-p', '--allowedTools', 'Read', 'Edit', 'the prompt']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Input must be provided');
    const ok = await run(['-p', '--allowedTools', 'Read', 'Edit', '--', 'the prompt']);
    expect(ok.stdout.toString()).toBe('Done: the prompt\n');
  });
});

describe('fake claude: scenarios through parseAgentOutput', () => {
  it.each([
    ['error_max_turns', '--max-turns'],
    ['error_during_execution', 'log'],
    ['error_max_budget_usd', '--max-budget-usd'],
    ['error_max_structured_output_retries', '--json-schema'],
  ])('%s → exit 1, agent_error', async (scenario, hint) => {
    const r = await run(['-p', `go [scenario:${scenario}]`, ...JSON_ARGS]);
    expect(r.exitCode).toBe(1);
    const obj = JSON.parse(r.stdout.toString()) as Record<string, unknown>;
    expect(obj).toMatchObject({ type: 'result', subtype: scenario, is_error: true, errors: [expect.any(String)] });
    expect(obj).not.toHaveProperty('result');
    const p = parseRun(r);
    expect(p).toMatchObject({ outcome: 'agent_error', subtype: scenario });
    expect(p.message).toMatch(/^fakeproj: /);
    expect(p.message).toContain(hint);
    expect(p.result).toBe((obj.errors as string[]).join('; '));
  });

  it('error subtypes are errors even when is_error is false (as in some versions)', async () => {
    const r = await run(['-p', 'go', ...STREAM_ARGS], {
      env: { FAKE_CLAUDE_SCENARIO: 'error_max_turns', FAKE_CLAUDE_IS_ERROR: 'false' },
    });
    expect(r.stdout.toString()).toContain('"is_error":false');
    expect(parseRun(r).outcome).toBe('agent_error');
  });

  it('not_logged_in → exit 1, subtype success with is_error true → agent_error about authentication', async () => {
    for (const args of [JSON_ARGS, STREAM_ARGS, []]) {
      const r = await run(['-p', '[scenario:not_logged_in]', ...args]);
      expect(r.exitCode).toBe(1);
      const p = parseRun(r, args.length ? 'auto' : 'text');
      expect(p.outcome).toBe('agent_error');
      expect(p.message).toContain('claude /login');
      expect(p.message).toContain('ANTHROPIC_API_KEY');
    }
    const r = await run(['-p', '[scenario:not_logged_in]', ...JSON_ARGS]);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      subtype: 'success',
      is_error: true,
      result: 'Not logged in · Please run /login',
      terminal_reason: expect.any(String),
      api_error_status: null,
    });
  });

  it('usage_limit → exit 1 → usage_limit with the next reset', async () => {
    const json = await run(['-p', 'work [scenario:usage_limit]', ...JSON_ARGS]);
    expect(json.exitCode).toBe(1);
    expect(JSON.parse(json.stdout.toString())).toMatchObject({
      subtype: 'success',
      is_error: true,
      result: "You've hit your limit · resets 1pm (Europe/London)",
    });
    const now = new Date('2026-01-15T10:00:00Z');
    expect(parseRun(json, 'json', { now })).toMatchObject({
      outcome: 'usage_limit',
      usageLimitResetsAt: '2026-01-15T13:00:00.000Z',
    });

    const text = await run(['-p', 'work [scenario:usage_limit:3:30pm (UTC)]']);
    expect(text.exitCode).toBe(1);
    expect(text.stdout.toString()).toBe("You've hit your limit · resets 3:30pm (UTC)\n");
    expect(parseRun(text, 'text', { now })).toMatchObject({
      outcome: 'usage_limit',
      usageLimitResetsAt: '2026-01-15T15:30:00.000Z',
    });

    const stream = await run(['-p', 'work', ...STREAM_ARGS], { env: { FAKE_CLAUDE_SCENARIO: 'usage_limit:13:00' } });
    expect(parseRun(stream, 'stream-json', { now })).toMatchObject({
      outcome: 'usage_limit',
      usageLimitResetsAt: '2026-01-15T13:00:00.000Z',
    });
  });

  it('slow:SECONDS sleeps, then succeeds', async () => {
    const r = await run(['-p', '[scenario:slow:1]', ...JSON_ARGS]);
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    expect(parseRun(r).outcome).toBe('succeeded');
  });

  it('hang ignores SIGTERM and never exits; SIGKILL ends it → crashed', async () => {
    let pid = 0;
    let printed = '';
    const done = run(['-p', '[scenario:hang]', ...STREAM_ARGS], {
      onStart: (p) => (pid = p),
      onStdout: (s) => (printed = s),
    });
    // It ignores SIGTERM from before its first event on: wait for that rather than for a fixed time.
    await waitFor(() => printed.includes('api_retry'));
    process.kill(pid, 'SIGTERM');
    await sleep(500);
    expect(liveProcess(pid)).not.toBeNull();
    process.kill(pid, 'SIGKILL');
    const r = await done;
    expect(r.signal).toBe('SIGKILL');
    const p = parseRun(r);
    expect(p.outcome).toBe('crashed');
    expect(p.message).toContain('SIGKILL');
  });

  it('grandchildren: two more processes in the same group, all ignoring SIGTERM, pids in a file', async () => {
    const pidsFile = path.join(tmp, 'pids.txt');
    let pid = 0;
    const done = run(['-p', '[scenario:grandchildren]'], {
      env: { FAKE_CLAUDE_PIDS_FILE: pidsFile },
      onStart: (p) => (pid = p),
    });
    const pids = await waitFor(() => readPids(pidsFile, 3));
    try {
      expect(pids).toHaveLength(3);
      expect(pids).toContain(pid);
      const grandchildren = pids.filter((p) => p !== pid);
      expect(grandchildren).toHaveLength(2);
      for (const p of pids) expect(liveProcess(p)?.pgid).toBe(pid);

      // SIGTERM to the whole group: everybody ignores it.
      process.kill(-pid, 'SIGTERM');
      await sleep(500);
      for (const p of pids) expect(liveProcess(p)).not.toBeNull();
    } finally {
      process.kill(-pid, 'SIGKILL');
    }
    const r = await done;
    expect(r.signal).toBe('SIGKILL');
    await waitFor(() => pids.every((p) => liveProcess(p) === null));
  });

  it('the default pids file is .fake-claude-pids in cwd', async () => {
    let pid = 0;
    const done = run(['-p', '[scenario:grandchildren]'], { onStart: (p) => (pid = p) });
    const file = path.join(tmp, '.fake-claude-pids');
    const pids = await waitFor(() => readPids(file, 3));
    expect(pids[2]).toBe(pid);
    process.kill(-pid, 'SIGKILL');
    await done;
    await waitFor(() => pids.every((p) => liveProcess(p) === null));
  });

  it('huge:MB writes exactly MB MiB of progress lines, then the result on its own line', async () => {
    const r = await run(['-p', '[scenario:huge:5]', ...JSON_ARGS]);
    expect(r.exitCode).toBe(0);
    const lastNl = r.stdout.lastIndexOf(0x0a, r.stdout.length - 2);
    const finalLine = r.stdout.subarray(lastNl + 1).toString();
    expect(lastNl + 1).toBe(5 * 1024 * 1024);
    expect(r.stdout.length).toBe(5 * 1024 * 1024 + Buffer.byteLength(finalLine));
    expect(r.stdout.subarray(0, 9).toString()).toBe('progress ');
    expect(JSON.parse(finalLine)).toMatchObject({ type: 'result', subtype: 'success' });
    expect(parseRun(r).outcome).toBe('succeeded');
    // Only the last 64 KiB, as the worker reads it for big outputs.
    const tail = { ...r, stdout: r.stdout.subarray(r.stdout.length - 64 * 1024) };
    expect(parseRun(tail, 'json', { headTruncated: true })).toMatchObject({ outcome: 'succeeded', numTurns: 3 });
  });

  it('invalid_utf8: raw invalid bytes inside the JSON string do not break parsing', async () => {
    const r = await run(['-p', 'bytes [scenario:invalid_utf8]', ...JSON_ARGS]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.includes(Buffer.from([0xff, 0xfe, 0xc3]))).toBe(true);
    const p = parseRun(r);
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toContain('\ufffd');
    expect(p.result.startsWith('Done: bytes')).toBe(true);
  });

  it('array: the verbose JSON array whatever the flags', async () => {
    const r = await run(['-p', '[scenario:array]', ...JSON_ARGS]);
    expect(r.stdout.toString().startsWith('[')).toBe(true);
    expect(parseRun(r, 'json').outcome).toBe('succeeded');
    const text = await run(['-p', '[scenario:array]']);
    expect(text.stdout.toString().startsWith('[')).toBe(true);
  });

  it('ansi: escape sequences before the JSON', async () => {
    const r = await run(['-p', '[scenario:ansi]', ...JSON_ARGS]);
    expect(r.stdout.toString().startsWith('\x1b[')).toBe(true);
    const p = parseRun(r);
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('Done: [scenario:ansi]');
  });

  it.each([
    ['[scenario:signal]', JSON_ARGS, 'SIGKILL'],
    ['[scenario:signal:SIGTERM]', STREAM_ARGS, 'SIGTERM'],
    ['[scenario:signal:SIGSEGV]', [], 'SIGSEGV'],
  ])('%s: partial output, then dies from the signal → crashed', async (prompt, args, sig) => {
    const r = await run(['-p', prompt, ...args]);
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe(sig);
    expect(r.stdout.length).toBeGreaterThan(0);
    const p = parseRun(r);
    expect(p.outcome).toBe('crashed');
    expect(p.message).toContain(sig);
  });

  it('crash_midstream: stream lines without the result line, exit 1 → crashed', async () => {
    const r = await run(['-p', '[scenario:crash_midstream]', ...STREAM_ARGS]);
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.toString().trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((l) => (JSON.parse(l) as { type: string }).type !== 'result')).toBe(true);
    const p = parseRun(r, 'stream-json');
    expect(p.outcome).toBe('crashed');
    expect(p.message).toContain('result line');
    expect(p.message).toContain('ECONNRESET');
    expect(p.sessionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('noop: exit 0, empty result, and no [write:] effect', async () => {
    const r = await run(['-p', '/nosuchcommand [scenario:noop] [write:notes/log.md]', ...JSON_ARGS]);
    expect(r.exitCode).toBe(0);
    const p = parseRun(r);
    expect(p).toMatchObject({ outcome: 'succeeded', result: '' });
    expect(p.message).toContain('empty result');
    expect(existsSync(path.join(tmp, 'notes', 'log.md'))).toBe(false);
  });

  it('the prompt token wins over FAKE_CLAUDE_SCENARIO', async () => {
    const env = { FAKE_CLAUDE_SCENARIO: 'error_max_turns' };
    expect(parseRun(await run(['-p', 'x', ...JSON_ARGS], { env })).outcome).toBe('agent_error');
    expect(parseRun(await run(['-p', 'x [scenario:success]', ...JSON_ARGS], { env })).outcome).toBe('succeeded');
  });

  it('FAKE_CLAUDE_COST sets the cost', async () => {
    const r = await run(['-p', 'x', ...JSON_ARGS], { env: { FAKE_CLAUDE_COST: '1.75' } });
    expect(parseRun(r).costUsd).toBe(1.75);
  });
});

describe('fake claude: orthogonal behaviours', () => {
  it('[write:RELPATH] writes markdown files (mkdir -p) on success', async () => {
    const r = await run(['-p', 'log it [write:docs/worklog/2026-01-15.md] [write:TODAY.md]', ...STREAM_ARGS]);
    expect(r.exitCode).toBe(0);
    const a = readFileSync(path.join(tmp, 'docs', 'worklog', '2026-01-15.md'), 'utf8');
    expect(a).toMatch(/^# /);
    expect(a).toContain('log it');
    expect(existsSync(path.join(tmp, 'TODAY.md'))).toBe(true);
    expect(r.stdout.toString()).toContain('"name":"Write"');
  });

  it('[write:] is not done when the run fails', async () => {
    await run(['-p', '[scenario:error_max_turns] [write:log.md]', ...JSON_ARGS]);
    expect(existsSync(path.join(tmp, 'log.md'))).toBe(false);
  });

  it('[marker] and FAKE_CLAUDE_MARKER=1 write .fake-claude-marker', async () => {
    const r = await run(['-p', 'mark [marker]', '--model', 'opus']);
    const marker = JSON.parse(readFileSync(path.join(tmp, '.fake-claude-marker'), 'utf8')) as Record<string, unknown>;
    expect(marker).toEqual({
      pid: r.pid,
      prompt: 'mark [marker]',
      cwd: tmp,
      argv: ['-p', 'mark [marker]', '--model', 'opus'],
    });

    const sub = path.join(tmp, 'sub');
    await fs.mkdir(sub);
    const r2 = await run(['-p', 'env marker'], { cwd: sub, env: { FAKE_CLAUDE_MARKER: '1' } });
    expect(JSON.parse(readFileSync(path.join(sub, '.fake-claude-marker'), 'utf8'))).toMatchObject({
      pid: r2.pid,
      prompt: 'env marker',
      cwd: sub,
    });
  });

  it('FAKE_CLAUDE_STAMPS records start/end of every run (to count runs and measure concurrency)', async () => {
    const stamps = path.join(tmp, 'stamps.jsonl');
    const env = { FAKE_CLAUDE_STAMPS: stamps, FAKE_CLAUDE_SLEEP_MS: '400' };
    const runs = await Promise.all([1, 2, 3].map((i) => run(['-p', `job ${i}`, ...JSON_ARGS], { env })));
    const events = readFileSync(stamps, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; pid: number; cwd: string; t: number });
    expect(events).toHaveLength(6);
    for (const r of runs) {
      const mine = events.filter((e) => e.pid === r.pid);
      expect(mine.map((e) => e.event)).toEqual(['start', 'end']);
      expect(mine[1].t - mine[0].t).toBeGreaterThanOrEqual(400);
      expect(mine[0].cwd).toBe(tmp);
    }
    // Peak concurrency from the stamps.
    let live = 0;
    let peak = 0;
    for (const e of [...events].sort((a, b) => a.t - b.t || (a.event === 'end' ? -1 : 1))) {
      live += e.event === 'start' ? 1 : -1;
      peak = Math.max(peak, live);
    }
    expect(peak).toBe(3);
  });

  it('FAKE_CLAUDE_SLEEP_MS delays the result in any scenario', async () => {
    const r = await run(['-p', '[scenario:error_max_turns]', ...JSON_ARGS], { env: { FAKE_CLAUDE_SLEEP_MS: '500' } });
    expect(r.ms).toBeGreaterThanOrEqual(500);
    expect(r.exitCode).toBe(1);
  });
});
