// The agents' event streams as progress: the fake agent's real stream-json output, and the shapes of the
// real CLIs (api_retry, rate_limit_event, synthetic error messages, Codex and Gemini events), read whole and as
// a growing file.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lineEvents, toolSummary } from '../src/agents/stream';
import { ProgressTracker } from '../src/agents/progress';
import { estimateCostUsd } from '../src/agents/pricing';
import { LaunchMonitor, StreamFollower } from '../src/runner/liveProgress';
import { parseClaudeOutput } from '../src/agents/claude';
import { ConversationRenderer } from '../src/cli/render/conversation';

const FAKE = path.join(__dirname, 'fixtures', 'fake-claude.js');

function fake(prompt: string, cwd: string, format = 'stream-json'): string {
  const args = [FAKE, '-p', prompt, '--output-format', format, ...(format === 'stream-json' ? ['--verbose'] : [])];
  return execFileSync(process.execPath, args, { cwd, encoding: 'utf8' });
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'stream-'));

test('tool calls in a short form', () => {
  expect(toolSummary('Bash', { command: 'npm test\n  --verbose', description: 'x' })).toBe('Bash: npm test --verbose');
  expect(toolSummary('Edit', { file_path: '/p/src/app.ts' }, '/p')).toBe('Edit: src/app.ts');
  expect(toolSummary('Edit', { file_path: '/elsewhere/a.ts' }, '/p')).toBe('Edit: /elsewhere/a.ts');
  expect(toolSummary('Grep', { pattern: 'TODO' })).toBe('Grep: TODO');
  expect(toolSummary('TodoWrite', { todos: [{}, {}] })).toBe('TodoWrite: 2 todos');
  expect(toolSummary('Weird', 42)).toBe('Weird');
  expect(toolSummary('Bash', { command: 'x'.repeat(500) }).length).toBeLessThan(120);
});

test("the fake agent's stream-json: turns, tools, text, tokens and cost, then the result's", () => {
  const dir = tmp();
  const lines = fake('[scenario:events:3:0] go', dir).split('\n');
  const t = new ProgressTracker();
  // Up to the second tool call, before its result: Edit in use.
  const editAt = lines.findIndex((l) => l.includes('"name":"Edit"'));
  for (const l of lines.slice(0, editAt + 1)) t.addLine(l);
  const mid = t.snapshot();
  expect(mid).toMatchObject({ turn: 2, tool: 'Edit: src/app.ts', text: 'Step 2: running Edit.', done: false });
  expect(mid.lastEvent).toBe('tool_use Edit: src/app.ts');
  // Two messages of 4 in, 120 out, 14000 cache reads, on a sonnet: an estimate at list price.
  expect(mid.tokens).toEqual({ input: 8, output: 240, cacheRead: 28000, cacheCreation: 0 });
  expect(mid.costUsd).toBeCloseTo(estimateCostUsd('claude-sonnet-4-5', mid.tokens!)!, 10);
  for (const l of lines.slice(editAt + 1)) t.addLine(l);
  const end = t.snapshot();
  expect(end).toMatchObject({ tool: null, done: true, costUsd: 0.0123, turn: 4 });
  expect(end.tokens).toEqual({ input: 1200, output: 3400, cacheRead: 52000, cacheCreation: 0 });
  // The parser still reads the same output as a success.
  const parsed = parseClaudeOutput(
    {
      stdout: Buffer.from(lines.join('\n')),
      headTruncated: false,
      stderrTail: '',
      exitCode: 0,
      signal: null,
      project: 'p',
      format: 'auto',
      now: new Date(),
    },
    { loginHint: 'log in' },
  );
  expect(parsed).toMatchObject({ outcome: 'succeeded', costUsd: 0.0123 });
});

test('API retries and rate-limit events, and the synthetic error message', () => {
  const t = new ProgressTracker();
  t.addLine(JSON.stringify({ type: 'system', subtype: 'init', model: 'claude-opus-4-8', cwd: '/p', session_id: 's' }));
  for (const attempt of [1, 2, 3]) {
    t.addLine(
      JSON.stringify({
        type: 'system',
        subtype: 'api_retry',
        attempt,
        max_retries: 10,
        error_status: 529,
        error: 'overloaded',
      }),
    );
  }
  expect(t.snapshot().retry).toBe('API overloaded, retry 3 of 10');
  t.addLine(
    JSON.stringify({
      type: 'system',
      subtype: 'api_retry',
      attempt: 1,
      max_retries: 2,
      error: 'unknown',
      error_status: 500,
    }),
  );
  expect(t.snapshot().retry).toBe('API error 500, retry 1 of 2');
  t.addLine(
    JSON.stringify({
      type: 'rate_limit_event',
      rate_limit_info: { status: 'rejected', resetsAt: 1764597600, rateLimitType: 'five_hour' },
    }),
  );
  expect(t.snapshot().rateLimit).toBe('rate limit rejected, five_hour, resets 2025-12-01T14:00:00.000Z');
  t.addLine(
    JSON.stringify({
      type: 'assistant',
      message: {
        id: 'm0',
        model: '<synthetic>',
        content: [{ type: 'text', text: 'API Error: 529 Overloaded.' }],
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    }),
  );
  const s = t.snapshot();
  expect(s.text).toBe('API Error: 529 Overloaded.');
  expect(s.turn).toBe(0); // a synthetic message is no turn of the model's
  expect(s.retry).toBe('API error 500, retry 1 of 2'); // still retrying: nothing real came back
  expect(lineEvents('not json')).toEqual([]);
  expect(lineEvents('{"type":"result"')).toEqual([]); // cut off
});

test('Codex and Gemini events read the same', () => {
  const codex = new ProgressTracker();
  for (const e of [
    { type: 'thread.started', thread_id: 't1' },
    { type: 'turn.started' },
    { type: 'item.started', item: { id: 'i1', type: 'command_execution', command: 'bash -lc ls' } },
  ])
    codex.addLine(JSON.stringify(e));
  expect(codex.snapshot().tool).toBe('Bash: bash -lc ls');
  codex.addLine(
    JSON.stringify({ type: 'item.completed', item: { id: 'i1', type: 'command_execution', exit_code: 0 } }),
  );
  codex.addLine(JSON.stringify({ type: 'item.completed', item: { type: 'agent_message', text: 'All done.' } }));
  codex.addLine(
    JSON.stringify({ type: 'turn.completed', usage: { input_tokens: 10, cached_input_tokens: 5, output_tokens: 3 } }),
  );
  expect(codex.snapshot()).toMatchObject({ turn: 1, tool: null, text: 'All done.' });
  expect(codex.snapshot().tokens).toEqual({ input: 10, output: 3, cacheRead: 5, cacheCreation: 0 });

  const gemini = new ProgressTracker();
  gemini.addLine(JSON.stringify({ type: 'init', session_id: 'g', model: 'gemini-2.5-pro' }));
  gemini.addLine(
    JSON.stringify({ type: 'tool_use', tool_name: 'read_file', tool_id: 'x', parameters: { path: 'a.md' } }),
  );
  expect(gemini.snapshot().tool).toBe('read_file: a.md');
  gemini.addLine(JSON.stringify({ type: 'result', status: 'success', stats: { input_tokens: 7, output_tokens: 2 } }));
  expect(gemini.snapshot()).toMatchObject({ done: true, tool: null });
});

test('a growing file is read as it grows, a line cut in two once it is whole', async () => {
  const dir = tmp();
  const file = path.join(dir, 'stdout.log');
  const lines = fake('[scenario:events:2:0] go', dir).split('\n').filter(Boolean);
  writeFileSync(file, '');
  const f = new StreamFollower(file);
  const tool = lines.find((l) => l.includes('"name":"Bash"'))!;
  const before = lines.slice(0, lines.indexOf(tool));
  appendFileSync(file, before.join('\n') + '\n' + tool.slice(0, 40));
  await f.poll();
  expect(f.tracker.snapshot().tool).toBeNull();
  appendFileSync(file, tool.slice(40) + '\n');
  await f.poll();
  expect(f.tracker.snapshot().tool).toBe('Bash: npm test');
});

test('a launch that writes nothing for stall_timeout is stalled, with its last event', async () => {
  const dir = tmp();
  const lines = fake('[scenario:events:1:0] go', dir).split('\n');
  const cut = lines.findIndex((l) => l.includes('"name":"Bash"'));
  writeFileSync(path.join(dir, 'stdout.log'), lines.slice(0, cut + 1).join('\n') + '\n');
  writeFileSync(path.join(dir, 'stderr.log'), '');
  const startedAt = Date.now();
  const m = new LaunchMonitor(dir, startedAt, 60_000);
  const soon = await m.look(Date.now() + 1000);
  expect(soon.stalled).toBeNull();
  expect(soon.heartbeat).toMatchObject({ turn: 1, tool: 'Bash: npm test' });
  const later = await m.look(Date.now() + 61_000);
  expect(later.stalled).toBe('stalled: no output for 1m, last event: tool_use Bash: npm test');
  expect((await new LaunchMonitor(dir, startedAt, null).look(Date.now() + 3_600_000)).stalled).toBeNull();
});

test('logs render a conversation: text, tool calls, truncated results, retries, errors, the result', () => {
  const dir = tmp();
  const out = fake('[scenario:events:2:0] go', dir);
  const r = new ConversationRenderer(false);
  // Fed in odd pieces, as `logs -f` reads a growing file.
  const text = [out.slice(0, 100), out.slice(100, 1234), out.slice(1234)].map((c) => r.push(c)).join('') + r.end();
  expect(text.split('\n')).toEqual([
    `── session ${JSON.parse(out.split('\n')[0]).session_id} · claude-sonnet-4-5-20250929 · ${dir}`,
    'Step 1: running Bash.',
    '▸ Bash: npm test',
    '  │ 42 passing',
    'Step 2: running Edit.',
    '▸ Edit: src/app.ts',
    '  │ The file was updated',
    'Done: [scenario:events:2:0] go',
    '✓ result · 3 turns · 57k tokens · $0.0123',
    '',
  ]);
  const more = new ConversationRenderer(false);
  const lines = [
    JSON.stringify({ type: 'system', subtype: 'api_retry', attempt: 2, max_retries: 10, error: 'overloaded' }),
    JSON.stringify({
      type: 'user',
      message: { content: [{ type: 'tool_result', tool_use_id: 't', is_error: true, content: 'a\nb\nc\nd\ne\nf' }] },
    }),
    'plain progress text',
    JSON.stringify({ type: 'stream_event', event: {} }),
    JSON.stringify({
      type: 'result',
      subtype: 'error_max_turns',
      is_error: true,
      errors: ['Reached maximum number of turns (1)'],
    }),
  ];
  expect(more.push(lines.join('\n') + '\n')).toBe(
    [
      '↻ API overloaded, retry 2 of 10',
      '  │ a',
      '  │ b',
      '  │ c',
      '  │ d',
      '  │ … 2 more lines',
      'plain progress text',
      '✗ result: error',
      'Reached maximum number of turns (1)',
      '',
    ].join('\n'),
  );
  const coloured = new ConversationRenderer(true).push(lines[4] + '\n');
  expect(coloured).toContain('\x1b[31m');
});
