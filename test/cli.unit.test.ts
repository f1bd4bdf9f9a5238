// The CLI's pure parts, without spawning it: result formatting, exit codes, the batch table, the printed
// `temporal schedule create` commands, argv → exit code, and every `orchestrate …` hint it prints.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { parseConfig } from '../src/config';
import { main } from '../src/cli/main';
import { buildProgram } from '../src/cli/program';
import { EXIT, exitCodeFor } from '../src/cli/errors';
import { formatJobResult } from '../src/cli/render/job';
import { batchFailed, renderBatch } from '../src/cli/render/table';
import { alreadyRunningHint } from '../src/cli/commands/run';
import { batchRunningHint } from '../src/cli/commands/batch';
import { plannedSchedules, temporalCliCommand } from '../src/temporal/schedules';
import type { BatchResult, BatchRow, JobResult } from '../src/temporal/types';

const result = (over: Partial<JobResult> = {}): JobResult => ({
  workflowId: 'job/alpha',
  project: 'alpha',
  kind: 'run',
  startedAt: '2026-05-01T10:00:00Z',
  outcome: 'succeeded',
  message: 'alpha: the agent finished',
  exitCode: 0,
  signal: null,
  durationMs: 90_000,
  costUsd: 0.0123,
  numTurns: 3,
  sessionId: 's1',
  subtype: 'success',
  result: 'done.\n',
  resultTruncated: false,
  logPath: '/state/runs/alpha/r1/attempt-1',
  pid: null,
  usageLimitResetsAt: null,
  ...over,
});

test('formatJobResult: head line, answer, log and web link; a failure shows its message', () => {
  expect(formatJobResult(result(), 'http://ui/wf')).toBe(
    [
      'alpha · succeeded · 1m30s · $0.0123 · 3 turns',
      '',
      'done.',
      '',
      'log: /state/runs/alpha/r1/attempt-1',
      'web: http://ui/wf',
    ].join('\n'),
  );
  const failed = formatJobResult(
    result({ outcome: 'agent_error', message: 'alpha: max turns', costUsd: 2.5, numTurns: null, result: '' }),
    'http://ui/wf',
  );
  expect(failed.split('\n')).toEqual([
    'alpha · agent_error · 1m30s · $2.50',
    'alpha: max turns',
    'log: /state/runs/alpha/r1/attempt-1',
    'web: http://ui/wf',
  ]);
  expect(formatJobResult(result({ costUsd: null, resultTruncated: true }), 'u')).toMatch(
    /cost n\/a[\s\S]*… \(truncated; full output in the log folder\)/,
  );
});

test('exitCodeFor: 0 succeeded, 2 setup error, 1 any other outcome', () => {
  expect(exitCodeFor({ outcome: 'succeeded' })).toBe(EXIT.ok);
  expect(exitCodeFor({ outcome: 'setup_error' })).toBe(EXIT.usage);
  for (const outcome of ['agent_error', 'usage_limit', 'crashed', 'cancelled', 'timed_out'] as const)
    expect(exitCodeFor({ outcome } as Pick<JobResult, 'outcome'>)).toBe(EXIT.failed);
});

const row = (project: string, decision: BatchRow['decision'], status: BatchRow['status'], costUsd: number | null) =>
  ({
    project,
    decision,
    status,
    reason: `${project}   reason\nsecond line`,
    durationMs: costUsd === null ? null : 61_000,
    costUsd,
    numTurns: null,
    workflowId: null,
    logPath: null,
  }) satisfies BatchRow;

test('renderBatch: the table, and counts in which every row is counted once', () => {
  const batch: BatchResult = {
    kind: 'cycle',
    date: '2026-05-01',
    rows: [
      row('ok', 'run', 'succeeded', 0.5),
      row('bad', 'run', 'agent_error', 0.25),
      row('quiet', 'skip', 'skipped', null),
      // A gate that errored skips the project, and is a failure: counted as failed only.
      row('gateerr', 'error', 'skipped', null),
    ],
  } as BatchResult;
  const text = renderBatch(batch);
  expect(text.split('\n')[0]).toBe('cycle 2026-05-01');
  expect(text).toMatch(/PROJECT\s+DECISION\s+OUTCOME\s+DURATION\s+COST\s+REASON/);
  expect(text).toMatch(/ok\s+run\s+succeeded\s+1m1s\s+\$0\.5000\s+ok reason second line/);
  expect(text).toContain('1 succeeded, 2 failed, 1 skipped · total $0.7500');
  expect(batchFailed(batch)).toBe(true);
  expect(batchFailed({ ...batch, rows: [batch.rows[0], batch.rows[2]] })).toBe(false);
  expect(renderBatch({ ...batch, rows: [], refused: 'paused', digestPath: '/d.md' } as BatchResult)).toMatch(
    /refused: paused[\s\S]*digest: \/d\.md/,
  );
});

test('temporalCliCommand: one `temporal schedule create` per planned schedule', () => {
  const config = parseConfig(
    '[orchestrator]\ntimezone = "Europe/Berlin"\n[schedules]\neod = "23:15"\nrollover = ""\ncycle_every = "30m"\n',
    '/cfg/workspaces.toml',
  );
  const commands = plannedSchedules(config).map((s) => temporalCliCommand(config, s));
  expect(commands).toHaveLength(2);
  const eod = commands.find((c) => c.includes('--type eod'));
  expect(eod).toMatch(/^temporal schedule create \\\n {2}--schedule-id \S+/);
  expect(eod).toContain('--time-zone Europe/Berlin');
  expect(eod).toContain('--overlap-policy Skip');
  expect(eod).toMatch(/--calendar '\{"hour":"23","minute":"15"/);
  expect(commands.find((c) => c.includes('--type cycle'))).toContain('--interval 30m');
});

describe('main(argv) → exit code', () => {
  const run = async (...args: string[]) => {
    let err = '';
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      err += String(c);
      return true;
    });
    try {
      return { code: await main(['node', 'orchestrate', ...args]), err };
    } finally {
      out.mockRestore();
      errSpy.mockRestore();
    }
  };
  test('help 0, usage errors 2, a bad config 2', async () => {
    expect((await run('--help')).code).toBe(EXIT.ok);
    expect((await run('run')).code).toBe(EXIT.usage);
    expect((await run('no-such-command')).code).toBe(EXIT.usage);
    const bad = await run('-c', '/nonexistent/workspaces.toml', 'run', '-p', 'x');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toContain('No config file at /nonexistent/workspaces.toml');
  });

  test('Temporal out of reach and a dev-server port in use are setup errors: exit 2', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-cli-unit-'));
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    const cfg = path.join(dir, 'workspaces.toml');
    writeFileSync(
      cfg,
      `[orchestrator]\nstate_dir = "${dir}"\n[server]\nip = "127.0.0.1"\nport = ${port}\nui_port = ${port + 1}\n`,
    );
    const saved = process.env.TEMPORAL_ADDRESS;
    try {
      process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
      const unreachable = await run('-c', cfg, 'schedule', 'list');
      expect(unreachable.code).toBe(EXIT.usage);
      expect(unreachable.err).toMatch(/^cannot reach Temporal at 127\.0\.0\.1:1 .*`orchestrate server start`/);
      delete process.env.TEMPORAL_ADDRESS;
      const portBusy = await run('-c', cfg, 'server', 'start');
      expect(portBusy.code).toBe(EXIT.usage);
      expect(portBusy.err).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = saved;
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** True when `orchestrate <args>` names a command and only options that command (or the program) has. */
function accepts(program: Command, args: string[]): string | null {
  let cmd = program;
  const rest = [...args];
  while (rest.length && !rest[0].startsWith('-')) {
    const next = cmd.commands.find((c) => c.name() === rest[0] || c.aliases().includes(rest[0]));
    if (!next) break;
    cmd = next;
    rest.shift();
  }
  if (cmd === program) return `no command "${args[0]}"`;
  for (const tok of rest.filter((t) => t.startsWith('-'))) {
    const known = [cmd, program].some((c) => c.options.some((o) => o.long === tok || o.short === tok));
    if (!known) return `\`orchestrate ${cmd.name()}\` has no option ${tok}`;
  }
  return null;
}

const SRC = path.resolve(__dirname, '../src');
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every `orchestrate …` command the code prints is one the CLI accepts', () => {
  const program = buildProgram();
  const hints = new Set<string>([
    alreadyRunningHint('job/alpha', 'alpha'),
    batchRunningHint('cycle', 'cycle/orchestrate'),
    batchRunningHint('eod', 'eod/orchestrate'),
  ]);
  // Every backticked command in the sources' code (not comments): messages are where a user reads them.
  for (const file of sources(SRC))
    for (const line of readFileSync(file, 'utf8').split('\n'))
      if (!/^\s*(\/\/|\*|\/\*)/.test(line))
        for (const m of line.matchAll(/\\?`(orchestrate [^`\\]+)\\?`/g)) hints.add(m[0]);
  const commands = [...hints].flatMap((h) => [...h.matchAll(/`(orchestrate [^`\\]+)\\?`/g)].map((m) => m[1]));
  expect(commands.length).toBeGreaterThan(10);
  const problems = commands
    .map((c) => {
      // Interpolations stand for a project, host or file name; a command word built at run time is tested
      // through the function that builds it (above).
      if (/^orchestrate \S*\$\{/.test(c)) return null;
      const args = c
        .replace(/\$\{[^}]*\}/g, 'x')
        .split(/\s+/)
        .slice(1)
        .filter((a) => a && !/^[<[]/.test(a));
      const why = accepts(program, args);
      return why && `${c}: ${why}`;
    })
    .filter(Boolean);
  expect(problems).toEqual([]);
});
