import {
  claudeTurnFailure,
  parseAgentOutput,
  parseUsageLimitReset,
  stripAnsi,
  truncateText,
  type ParseInput,
  type ResultFormat,
} from '../src/agents/result';
import { RESULT_MAX_CHARS } from '../src/temporal/types';

const NOW = new Date('2026-01-15T10:00:00Z');
const SESSION = '0b9d3a6e-4c1f-4f57-9a51-2f0c1c7c1e11';

function resultObj(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'result',
    subtype: 'success',
    is_error: false,
    duration_ms: 55000,
    duration_api_ms: 41000,
    num_turns: 7,
    result: 'All done.',
    stop_reason: null,
    session_id: SESSION,
    total_cost_usd: 0.4123,
    usage: { input_tokens: 1200, output_tokens: 3400, cache_creation_input_tokens: 0, cache_read_input_tokens: 52000 },
    modelUsage: {},
    permission_denials: [],
    uuid: 'e1b0c1a2-0000-4000-8000-000000000001',
    ...fields,
  };
}

function errorObj(subtype: string, errors: string[], fields: Record<string, unknown> = {}): Record<string, unknown> {
  const obj = resultObj({ subtype, is_error: true, errors, ...fields });
  delete obj.result;
  return obj;
}

const init = {
  type: 'system',
  subtype: 'init',
  cwd: '/work/p',
  session_id: SESSION,
  tools: ['Bash', 'Read'],
  mcp_servers: [],
  model: 'claude-sonnet-4-5',
  permissionMode: 'default',
  claude_code_version: '2.1.197',
};
const assistant = {
  type: 'assistant',
  message: { role: 'assistant', content: [{ type: 'text', text: 'Working on it' }] },
  session_id: SESSION,
};

function parse(stdout: Buffer | string, over: Partial<ParseInput> = {}) {
  return parseAgentOutput({
    stdout,
    headTruncated: false,
    stderrTail: '',
    exitCode: 0,
    signal: null,
    project: 'authexis',
    format: 'auto',
    now: NOW,
    ...over,
  });
}

const line = (o: unknown) => JSON.stringify(o) + '\n';

describe('stripAnsi', () => {
  it('removes CSI, private-mode, OSC and charset escapes', () => {
    expect(stripAnsi('\x1b[?25l\x1b[2K\x1b[1G{"a":1}\x1b[?25h')).toBe('{"a":1}');
    expect(stripAnsi('\x1b[31mred\x1b[0m \x1b[1;32mgreen\x1b[39m')).toBe('red green');
    expect(stripAnsi('\x1b]0;title\x07text\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\')).toBe('textlink');
    expect(stripAnsi('\x1b(Bplain')).toBe('plain');
  });
  it('leaves ordinary text alone', () => {
    expect(stripAnsi('Done · [ok] (x) {"y":[1,2]}')).toBe('Done · [ok] (x) {"y":[1,2]}');
  });
});

describe('truncateText', () => {
  it('keeps short text as it is', () => {
    expect(truncateText('abc')).toEqual({ text: 'abc', truncated: false });
    expect(truncateText('x'.repeat(RESULT_MAX_CHARS))).toEqual({
      text: 'x'.repeat(RESULT_MAX_CHARS),
      truncated: false,
    });
  });
  it('caps long text at the maximum, keeping its start and saying so', () => {
    const { text, truncated } = truncateText('y'.repeat(RESULT_MAX_CHARS + 500));
    expect(truncated).toBe(true);
    expect(text.length).toBeLessThanOrEqual(RESULT_MAX_CHARS);
    expect(text.startsWith('yyyy')).toBe(true);
    expect(text).toContain('truncated');
  });
  it('honours a custom maximum and never splits a surrogate pair', () => {
    const s = 'a' + '😀'.repeat(100);
    for (const max of [5, 20, 41, 60]) {
      const { text, truncated } = truncateText(s, max);
      expect(truncated).toBe(true);
      expect(text.length).toBeLessThanOrEqual(max);
      expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    }
  });
});

describe('parseUsageLimitReset', () => {
  it('returns null for text that is not a usage-limit message', () => {
    expect(parseUsageLimitReset('All done, 3 files changed', NOW)).toBeNull();
    expect(parseUsageLimitReset('Reached maximum number of turns (10)', NOW)).toBeNull();
    expect(parseUsageLimitReset('', NOW)).toBeNull();
  });

  it('Europe/London in winter (GMT): 1pm is 13:00Z the same day', () => {
    expect(parseUsageLimitReset("You've hit your limit · resets 1pm (Europe/London)", NOW)).toEqual({
      resetsAt: '2026-01-15T13:00:00.000Z',
      text: "You've hit your limit · resets 1pm (Europe/London)",
    });
  });

  it('Europe/London in summer (BST): 1pm is 12:00Z', () => {
    const r = parseUsageLimitReset(
      "You've hit your limit · resets 1pm (Europe/London)",
      new Date('2026-07-15T10:00:00Z'),
    );
    expect(r?.resetsAt).toBe('2026-07-15T12:00:00.000Z');
  });

  it('after 1pm the reset is tomorrow; within the minute of 1pm it is the end of that minute (the CLI cuts to minutes)', () => {
    const msg = "You've hit your limit · resets 1pm (Europe/London)";
    expect(parseUsageLimitReset(msg, new Date('2026-01-15T14:00:00Z'))?.resetsAt).toBe('2026-01-16T13:00:00.000Z');
    expect(parseUsageLimitReset(msg, new Date('2026-01-15T13:00:20Z'))?.resetsAt).toBe('2026-01-15T13:01:00.000Z');
    expect(parseUsageLimitReset(msg, new Date('2026-07-15T12:30:00Z'))?.resetsAt).toBe('2026-07-16T12:00:00.000Z');
  });

  it('crosses a DST change: the day after the clocks go forward', () => {
    // Clocks go forward in London on 2026-03-29 at 01:00Z.
    const r = parseUsageLimitReset(
      "You've hit your limit · resets 1pm (Europe/London)",
      new Date('2026-03-28T14:00:00Z'),
    );
    expect(r?.resetsAt).toBe('2026-03-29T12:00:00.000Z');
  });

  it('reads 3:30pm, 13:00 and a missing zone (UTC)', () => {
    expect(parseUsageLimitReset("You've hit your limit · resets 3:30pm (UTC)", NOW)?.resetsAt).toBe(
      '2026-01-15T15:30:00.000Z',
    );
    expect(parseUsageLimitReset("You've hit your limit · resets 13:00", NOW)?.resetsAt).toBe(
      '2026-01-15T13:00:00.000Z',
    );
    expect(parseUsageLimitReset("You've hit your limit · resets 3:30pm", NOW)?.resetsAt).toBe(
      '2026-01-15T15:30:00.000Z',
    );
    expect(parseUsageLimitReset("You've hit your limit · resets 9am", NOW)?.resetsAt).toBe('2026-01-16T09:00:00.000Z');
    expect(parseUsageLimitReset("You've hit your limit · resets 12am (UTC)", NOW)?.resetsAt).toBe(
      '2026-01-16T00:00:00.000Z',
    );
  });

  it('reads the session-limit variant seen in the wild, in another zone', () => {
    const r = parseUsageLimitReset(
      "You've hit your session limit - resets 10:40pm (America/Sao_Paulo)",
      new Date('2026-09-03T20:00:00Z'),
    );
    expect(r?.resetsAt).toBe('2026-09-04T01:40:00.000Z');
  });

  it('reads a reset with a date', () => {
    const r = parseUsageLimitReset(
      "You've hit your weekly limit · resets Oct 6, 2pm (Europe/London)",
      new Date('2026-09-01T00:00:00Z'),
    );
    expect(r?.resetsAt).toBe('2026-10-06T13:00:00.000Z');
  });

  it('reads the old epoch format and a relative reset', () => {
    expect(parseUsageLimitReset('Claude AI usage limit reached|1753920000', NOW)?.resetsAt).toBe(
      new Date(1753920000 * 1000).toISOString(),
    );
    expect(parseUsageLimitReset('5-hour limit reached ∙ resets in 2h 30m', NOW)?.resetsAt).toBe(
      '2026-01-15T12:30:00.000Z',
    );
  });

  it('recognises the message but gives null when the reset time is unparseable', () => {
    expect(parseUsageLimitReset("You've hit your weekly limit · resets Sunday", NOW)).toEqual({
      resetsAt: null,
      text: "You've hit your weekly limit · resets Sunday",
    });
    expect(parseUsageLimitReset("You've hit your limit · resets 1pm (Mars/Olympus_Mons)", NOW)?.resetsAt).toBeNull();
    expect(parseUsageLimitReset("You've hit your limit · resets 25:00", NOW)?.resetsAt).toBeNull();
    expect(parseUsageLimitReset("You've hit your limit", NOW)?.resetsAt).toBeNull();
  });

  it('finds the message inside longer text and returns just its line', () => {
    const r = parseUsageLimitReset(
      "starting\n\x1b[31mYou've hit your limit · resets 1pm (Europe/London)\x1b[0m\nbye",
      NOW,
    );
    expect(r).toEqual({
      resetsAt: '2026-01-15T13:00:00.000Z',
      text: "You've hit your limit · resets 1pm (Europe/London)",
    });
  });
});

describe('parseAgentOutput: finding the result', () => {
  it('parses a single JSON result object', () => {
    const p = parse(line(resultObj()));
    expect(p).toEqual({
      outcome: 'succeeded',
      message: expect.stringContaining('authexis') as unknown as string,
      subtype: 'success',
      costUsd: 0.4123,
      numTurns: 7,
      sessionId: SESSION,
      result: 'All done.',
      resultTruncated: false,
      usageLimitResetsAt: null,
      tokens: { input: 1200, output: 3400, cacheRead: 52000, cacheCreation: 0 },
    });
  });

  it('skips ANSI escape sequences in front of (and after) the JSON', () => {
    const p = parse('\x1b[?25l\x1b[2K' + line(resultObj()) + '\x1b[?25h');
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('All done.');
  });

  it('takes the last result of a JSON array (--verbose with json)', () => {
    const arr = [init, assistant, resultObj({ result: 'from the array' })];
    expect(parse(JSON.stringify(arr)).result).toBe('from the array');
    expect(parse(JSON.stringify(arr, null, 2), { format: 'json' }).outcome).toBe('succeeded');
  });

  it('reads stream-json NDJSON with its result line', () => {
    const out = [init, assistant, assistant, resultObj({ result: 'streamed' })].map(line).join('');
    const p = parse(out, { format: 'stream-json' });
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('streamed');
    expect(p.sessionId).toBe(SESSION);
  });

  it('a stream-json without its result line is a crash, whatever the exit code', () => {
    const out = [init, assistant].map(line).join('');
    const p = parse(out, { exitCode: 1, stderrTail: 'some noise\nError: read ECONNRESET\n' });
    expect(p.outcome).toBe('crashed');
    expect(p.message).toMatch(/^authexis: /);
    expect(p.message).toContain('result line');
    expect(p.message).toContain('exited with code 1');
    expect(p.message).toContain('Error: read ECONNRESET');
    expect(p.sessionId).toBe(SESSION); // from the init line, for --resume
    expect(parse(out, { exitCode: 0 }).outcome).toBe('crashed');
    expect(parse('', { exitCode: 0, format: 'stream-json' }).outcome).toBe('crashed');
  });

  it('never throws on invalid UTF-8 and keeps the rest of the result', () => {
    const json = JSON.stringify(resultObj({ result: 'before @@ after' }));
    const [a, b] = json.split('@@');
    const buf = Buffer.concat([Buffer.from(a), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(b + '\n')]);
    const p = parse(buf);
    expect(p.outcome).toBe('succeeded');
    expect(p.result.startsWith('before ')).toBe(true);
    expect(p.result.endsWith(' after')).toBe(true);
    expect(p.result).toContain('\ufffd');
  });

  it('finds the result at the end of a huge output given only its tail', () => {
    const progress = 'progress 00001234 ' + '.'.repeat(45) + '\n';
    const full = progress.repeat(20000) + line(resultObj({ result: 'after lots of output' }));
    // A tail that starts in the middle of a line (and of a multi-byte character).
    const tail = Buffer.concat([Buffer.from([0xa4, 0x20]), Buffer.from(full.slice(full.length - 200_000))]);
    const p = parse(tail, { headTruncated: true });
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('after lots of output');
    expect(p.resultTruncated).toBe(false);
  });

  it('finds the result in the tail of a one-line JSON array whose head was cut off', () => {
    const arr = JSON.stringify([init, assistant, assistant, resultObj({ result: 'array tail' })]);
    const p = parse(arr.slice(arr.length - 700), { headTruncated: true, format: 'json' });
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('array tail');
  });

  it('finds a result object glued to other output, whatever its key order', () => {
    const obj = resultObj({ result: 'glued' });
    const reordered = Object.fromEntries(Object.entries(obj).reverse()); // "type" comes last, as seen in the wild
    expect(parse('warming up... ' + JSON.stringify(obj)).result).toBe('glued');
    expect(parse('noise {not json} ' + JSON.stringify(reordered) + ' trailing').result).toBe('glued');
  });

  it('ignores a result-looking string inside another JSON value', () => {
    const p = parse(line({ type: 'assistant', text: '{"type":"result"}' }), { exitCode: 1 });
    expect(p.outcome).toBe('crashed');
  });
});

describe('parseAgentOutput: deciding the outcome', () => {
  it('success + is_error false + exit 0 → succeeded; message names the project, turns and cost', () => {
    const p = parse(line(resultObj()));
    expect(p.outcome).toBe('succeeded');
    expect(p.message).toBe('authexis: agent succeeded (7 turns, $0.4123)');
  });

  it('a lost exit status (null) or an older result without subtype does not veto a success', () => {
    expect(parse(line(resultObj()), { exitCode: null }).outcome).toBe('succeeded');
    const noSubtype = resultObj();
    delete noSubtype.subtype;
    expect(parse(line(noSubtype)).outcome).toBe('succeeded');
  });

  it('success + is_error false but a non-zero exit → agent_error', () => {
    const p = parse(line(resultObj()), { exitCode: 1, stderrTail: 'warning\nsomething broke\n' });
    expect(p.outcome).toBe('agent_error');
    expect(p.message).toMatch(/^authexis: /);
    expect(p.message).toContain('exited with code 1');
    expect(p.message).toContain('something broke');
    expect(p.result).toBe('All done.');
  });

  it('success + is_error true "Not logged in" → agent_error about authentication', () => {
    const obj = resultObj({
      is_error: true,
      num_turns: 1,
      result: 'Not logged in · Please run /login',
      total_cost_usd: 0,
      terminal_reason: 'api_error',
      api_error_status: null,
    });
    const p = parse(line(obj), { exitCode: 1 });
    expect(p.outcome).toBe('agent_error');
    expect(p.subtype).toBe('success');
    expect(p.message).toMatch(/^authexis: /);
    expect(p.message).toMatch(/authenticat/);
    expect(p.message).toContain('claude /login');
    expect(p.message).toContain('ANTHROPIC_API_KEY');
    expect(p.message).toContain('worker host');
    expect(p.result).toBe('Not logged in · Please run /login');
    // Same verdict when the exit code is 0: is_error wins over the subtype.
    expect(parse(line(obj), { exitCode: 0 }).outcome).toBe('agent_error');
  });

  it('success + is_error true for an API error → agent_error with the error text', () => {
    const obj = resultObj({ is_error: true, result: 'API Error: 529 Overloaded', api_error_status: 529 });
    const p = parse(line(obj), { exitCode: 1 });
    expect(p.outcome).toBe('agent_error');
    expect(p.message).toContain('API Error: 529 Overloaded');
    expect(p.message).toContain('529');
    expect(p.message).not.toContain('/login');
  });

  it.each([
    [
      'error_max_turns',
      'authexis: agent hit max turns (error_max_turns) — raise --max-turns in [agent] args or split the task',
    ],
    ['error_max_budget_usd', '--max-budget-usd'],
    ['error_during_execution', 'log'],
    ['error_max_structured_output_retries', '--json-schema'],
    ['error_something_new', 'error_something_new'],
  ])('%s → agent_error with its own message', (subtype, expected) => {
    const p = parse(line(errorObj(subtype, ['first problem', 'second problem'])), { exitCode: 1 });
    expect(p.outcome).toBe('agent_error');
    expect(p.subtype).toBe(subtype);
    expect(p.message).toMatch(/^authexis: /);
    expect(p.message).toContain(expected);
    expect(p.result).toBe('first problem; second problem');
    expect(p.costUsd).toBe(0.4123);
    expect(p.numTurns).toBe(7);
  });

  it('an error subtype is an error even with is_error false and exit 0', () => {
    const obj = errorObj('error_max_turns', ['Reached maximum number of turns (10)'], { is_error: false });
    expect(parse(line(obj), { exitCode: 0 }).outcome).toBe('agent_error');
    expect(parse(line(obj), { exitCode: 1 }).outcome).toBe('agent_error');
  });

  it('usage limit in the result object → usage_limit with the reset time', () => {
    const obj = resultObj({ is_error: true, result: "You've hit your limit · resets 1pm (Europe/London)" });
    const p = parse(line(obj), { exitCode: 1 });
    expect(p.outcome).toBe('usage_limit');
    expect(p.usageLimitResetsAt).toBe('2026-01-15T13:00:00.000Z');
    expect(p.message).toMatch(/^authexis: /);
    expect(p.message).toContain('usage limit');
    expect(p.message).toContain('2026-01-15T13:00:00.000Z');
  });

  it('usage limit as captured from a real run (reordered keys, session limit, 429)', () => {
    const real =
      '{"duration_api_ms":0,"stop_reason":"stop_sequence","session_id":"e4056ca0-1be3-431a-b16b-55e50f7d75f2","total_cost_usd":0,' +
      '"usage":{"input_tokens":0,"output_tokens":0,"server_tool_use":{"web_search_requests":0}},"modelUsage":{},"permission_denials":[],' +
      '"terminal_reason":"api_error","is_error":true,"num_turns":1,"subtype":"success","api_error_status":429,' +
      '"result":"You\'ve hit your session limit - resets 10:40pm (America/Sao_Paulo)","type":"result","duration_ms":1679}';
    const p = parse(real + '\n', { exitCode: 1, now: new Date('2026-09-03T20:00:00Z') });
    expect(p.outcome).toBe('usage_limit');
    expect(p.usageLimitResetsAt).toBe('2026-09-04T01:40:00.000Z');
    expect(p.sessionId).toBe('e4056ca0-1be3-431a-b16b-55e50f7d75f2');
  });

  it('usage limit in text output, in stderr, or with an unparseable reset', () => {
    const text = parse("You've hit your limit · resets 3:30pm (UTC)\n", { exitCode: 1, format: 'text' });
    expect(text.outcome).toBe('usage_limit');
    expect(text.usageLimitResetsAt).toBe('2026-01-15T15:30:00.000Z');

    const stderr = parse('', { exitCode: 1, stderrTail: "Error: You've hit your limit · resets 13:00\n" });
    expect(stderr.outcome).toBe('usage_limit');
    expect(stderr.usageLimitResetsAt).toBe('2026-01-15T13:00:00.000Z');

    const weekly = parse(line(resultObj({ is_error: true, result: "You've hit your weekly limit · resets Sunday" })), {
      exitCode: 1,
    });
    expect(weekly.outcome).toBe('usage_limit');
    expect(weekly.usageLimitResetsAt).toBeNull();
    expect(weekly.message).toContain('authexis');
  });

  it('a clean success is not turned into a usage limit by its own text', () => {
    const p = parse(line(resultObj({ result: 'Documented the "You\'ve hit your limit · resets 1pm" banner' })));
    expect(p.outcome).toBe('succeeded');
  });

  it('killed by a signal → crashed, naming the signal and the last stderr line', () => {
    const partial = JSON.stringify(resultObj()).slice(0, 80);
    const p = parse(partial, { exitCode: null, signal: 'SIGKILL', stderrTail: 'line one\nlast words\n' });
    expect(p.outcome).toBe('crashed');
    expect(p.message).toMatch(/^authexis: /);
    expect(p.message).toContain('SIGKILL');
    expect(p.message).toContain('last words');
    // Even with a complete result printed before the signal.
    expect(parse(line(resultObj()), { exitCode: null, signal: 'SIGTERM' }).outcome).toBe('crashed');
  });

  it('no result object and a non-zero exit → crashed with the exit code', () => {
    const p = parse('some text\n', { exitCode: 3, stderrTail: '' });
    expect(p.outcome).toBe('crashed');
    expect(p.message).toContain('exited with code 3');
    expect(p.message).toContain('nothing on stderr');
    const json = parse('', { exitCode: 1, format: 'json', stderrTail: 'Segmentation fault\n' });
    expect(json.outcome).toBe('crashed');
    expect(json.message).toContain('Segmentation fault');
    expect(parse('', { exitCode: null }).outcome).toBe('crashed');
  });

  it('text format: exit 0 → succeeded with the trimmed text, even if it looks like JSON', () => {
    const p = parse('\n  The answer is 42.  \n\n', { format: 'text' });
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('The answer is 42.');
    expect(p.subtype).toBeNull();
    expect(p.costUsd).toBeNull();
    const json = parse(line(errorObj('error_max_turns', ['x'])), { format: 'text' });
    expect(json.outcome).toBe('succeeded');
    expect(json.result).toContain('error_max_turns');
  });

  it('no JSON at all with exit 0 → succeeded with the text (auto format)', () => {
    const p = parse('\x1b[32mAll good\x1b[0m\n');
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('All good');
  });

  it('text format: Not logged in with exit 1 → agent_error about authentication', () => {
    const p = parse('Not logged in · Please run /login\n', { format: 'text', exitCode: 1 });
    expect(p.outcome).toBe('agent_error');
    expect(p.message).toContain('claude /login');
    expect(p.message).toContain('ANTHROPIC_API_KEY');
  });

  it('an empty successful result (nothing happened) still succeeds but says to check the work', () => {
    const p = parse(line(resultObj({ result: '', num_turns: 0, total_cost_usd: 0 })));
    expect(p.outcome).toBe('succeeded');
    expect(p.result).toBe('');
    expect(p.message).toContain('empty result');
  });

  it('truncates a long result and flags it', () => {
    const p = parse(line(resultObj({ result: 'r'.repeat(RESULT_MAX_CHARS * 3) })));
    expect(p.resultTruncated).toBe(true);
    expect(p.result.length).toBeLessThanOrEqual(RESULT_MAX_CHARS);
    expect(p.result.startsWith('rrrr')).toBe(true);
  });

  it('long plain text keeps its end; a head-truncated text is flagged', () => {
    const text = 'start\n' + 'm'.repeat(RESULT_MAX_CHARS * 2) + '\nfinal line';
    const p = parse(text, { format: 'text' });
    expect(p.resultTruncated).toBe(true);
    expect(p.result.length).toBeLessThanOrEqual(RESULT_MAX_CHARS);
    expect(p.result.endsWith('final line')).toBe(true);
    expect(parse('short tail', { format: 'text', headTruncated: true }).resultTruncated).toBe(true);
  });

  it('cost comes from total_cost_usd; the legacy cost_usd only when it is missing', () => {
    expect(parse(line(resultObj({ total_cost_usd: 1.5, cost_usd: 9 }))).costUsd).toBe(1.5);
    const legacy = resultObj({ cost_usd: 0.2 });
    delete legacy.total_cost_usd;
    expect(parse(line(legacy)).costUsd).toBe(0.2);
    const none = resultObj();
    delete none.total_cost_usd;
    expect(parse(line(none)).costUsd).toBeNull();
    expect(parse(line(resultObj({ num_turns: 'x', session_id: 5 })))).toMatchObject({
      numTurns: null,
      sessionId: null,
    });
  });

  it('every outcome message names the project', () => {
    const cases: Array<[Buffer | string, Partial<ParseInput>]> = [
      [line(resultObj()), {}],
      [line(errorObj('error_max_turns', ['x'])), { exitCode: 1 }],
      [line(resultObj({ is_error: true, result: "You've hit your limit · resets 1pm" })), { exitCode: 1 }],
      ['', { exitCode: 1 }],
      ['', { exitCode: null, signal: 'SIGKILL' }],
      ['hello', { format: 'text' as ResultFormat }],
    ];
    for (const [stdout, over] of cases) {
      expect(parse(stdout, { ...over, project: 'my-proj' }).message).toMatch(/^my-proj: /);
    }
  });
});

describe('transient API errors', () => {
  it.each([
    [
      'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":null}',
      529,
    ],
    ['API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment.', null],
    ['API Error: Repeated 529 Overloaded errors', null],
    ['API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}', 500],
    ['API Error: Connection error.', null],
    ['API Error: Request timed out.', null],
    ['something odd happened', 503],
  ])('%s (status %s) → agent_error, transient', (text, status) => {
    const obj = resultObj({ is_error: true, result: text, api_error_status: status, terminal_reason: 'api_error' });
    const p = parse(line(obj), { exitCode: 1 });
    expect(p.outcome).toBe('agent_error');
    expect(p.transient).toBe(true);
    expect(p.message).toMatch(/^authexis: the Claude API failed with a transient error/);
  });

  it('text output "API Error: 529 ..." with exit 1 (no result object) → transient agent_error', () => {
    const p = parse('API Error: 529 Overloaded. This is a server-side issue\n', { format: 'text', exitCode: 1 });
    expect(p).toMatchObject({ outcome: 'agent_error', transient: true });
    const onStderr = parse('', { format: 'json', exitCode: 1, stderrTail: 'API Error: Connection error.\n' });
    expect(onStderr).toMatchObject({ outcome: 'agent_error', transient: true });
  });

  it("not transient: an API error the agent's own work printed earlier, when the run failed for another reason", () => {
    const work = 'Calling the billing API...\nAPI Error: 503 from billing, will mock it\nTraceback: boom\n';
    const p = parse(work, { format: 'text', exitCode: 1 });
    expect(p.outcome).toBe('crashed');
    expect(p.transient).toBeUndefined();
    const stderr = parse('', { exitCode: 1, stderrTail: 'API Error: 502 earlier\nSegmentation fault\n' });
    expect(stderr.transient).toBeUndefined();
  });

  it('not transient: not logged in, a usage limit, error subtypes, a client error, a cut-off stream', () => {
    const auth = resultObj({ is_error: true, result: 'Not logged in · Please run /login', api_error_status: null });
    expect(parse(line(auth), { exitCode: 1 }).transient).toBeUndefined();
    const limit = resultObj({ is_error: true, result: "You've hit your limit · resets 1pm", api_error_status: 429 });
    expect(parse(line(limit), { exitCode: 1 })).toMatchObject({ outcome: 'usage_limit' });
    expect(parse(line(limit), { exitCode: 1 }).transient).toBeUndefined();
    expect(parse(line(errorObj('error_max_turns', ['x'])), { exitCode: 1 }).transient).toBeUndefined();
    const bad = resultObj({ is_error: true, result: 'API Error: 400 invalid_request_error', api_error_status: 400 });
    expect(parse(line(bad), { exitCode: 1 })).toMatchObject({ outcome: 'agent_error' });
    expect(parse(line(bad), { exitCode: 1 }).transient).toBeUndefined();
    const stream = [init, assistant].map(line).join('');
    const cut = parse(stream, { exitCode: 1, stderrTail: 'API Error: Connection error.\n' });
    expect(cut.outcome).toBe('crashed');
  });
});

describe('truncated JSON with exit 0', () => {
  const whole = JSON.stringify(resultObj({ result: 'cut short' }));
  it.each<[string, ResultFormat]>([
    [whole.slice(0, Math.floor(whole.length / 2)), 'json'],
    [whole.slice(0, Math.floor(whole.length / 2)), 'auto'],
    ['\x1b[?25l\x1b[2K' + whole.slice(0, 40), 'auto'],
    [JSON.stringify([init, assistant]).slice(0, 120), 'auto'],
    ['{"type":"system","subtype":"init"', 'json'],
    ['{"unrelated": true}', 'json'],
    ['[1, 2, 3]', 'json'],
  ])('%j (%s) → crashed, not succeeded', (stdout, format) => {
    const p = parse(stdout, { exitCode: 0, format });
    expect(p.outcome).toBe('crashed');
    expect(p.message).toMatch(/^authexis: agent exited with code 0 but its JSON output holds no result object/);
  });

  it("a custom agent's own JSON on auto is its text output, not a cut-off result", () => {
    const own = '{"status": "ok", "changed": 3}\n';
    expect(parse(own, { exitCode: 0, resultObjectExpected: false }).outcome).toBe('succeeded');
    // Unless its output_format says json: then a result object is expected.
    expect(parse(own, { exitCode: 0, format: 'json', resultObjectExpected: false }).outcome).toBe('crashed');
  });

  it('prose that merely starts with a bracket still succeeds (auto), and text format is never JSON', () => {
    expect(parse('[link](https://example.com) done\n').outcome).toBe('succeeded');
    expect(parse('{braces} in prose\n').outcome).toBe('succeeded');
    expect(parse(whole.slice(0, 50), { format: 'text' }).outcome).toBe('succeeded');
  });
});

describe('claudeTurnFailure: an interactive turn an API error ended (StopFailure)', () => {
  const ctx = { loginHint: 'run `claude /login`' };
  const fail = (error: string, text: string) => claudeTurnFailure('p', error, text, ctx, NOW);

  test('a usage limit the text names comes first: a subscriber’s limit is a rate_limit too', () => {
    expect(fail('rate_limit', "You've hit your limit · resets 1pm (Europe/London)")).toMatchObject({
      outcome: 'usage_limit',
      usageLimitResetsAt: '2026-01-15T13:00:00.000Z',
    });
  });

  test('refused credentials: agent_error with authFailure and the login hint', () => {
    const r = fail('oauth_org_not_allowed', 'Your organization does not allow OAuth');
    expect(r).toMatchObject({ outcome: 'agent_error', authFailure: true });
    expect(r.message).toMatch(/^p: agent is not authenticated .*run `claude \/login`$/);
  });

  test.each(['rate_limit', 'overloaded', 'server_error'])('%s without a usage limit: transient', (error) => {
    expect(fail(error, 'API Error: 500 boom')).toMatchObject({ outcome: 'agent_error', transient: true });
  });

  test('anything else: agent_error naming the category and the text, not run again', () => {
    const r = fail('max_output_tokens', '');
    expect(r).toMatchObject({ outcome: 'agent_error' });
    expect(r.transient).toBeUndefined();
    expect(r.message).toMatch(
      /^p: an API error \(max_output_tokens\) ended the agent's turn: "API error max_output_tokens"/,
    );
  });
});
