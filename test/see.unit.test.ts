// Pure parts of "see and steer": the notification hook runner, event rules, status rendering, --since,
// the agent-line summary and project naming for `init`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSince } from '../src/cli/options';
import { describeLine } from '../src/cli/inspect';
import { projectName } from '../src/cli/commands/init';
import { renderStatus, type StatusReport } from '../src/cli/commands/status';
import { eventText, jobFailedEvent, notify, type UsageLimitWaitEvent } from '../src/lib/notify';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'see-unit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cfg = (command: string | null) => ({ notify: { command }, configPath: path.join(dir, 'workspaces.toml') });
const wait: UsageLimitWaitEvent = { type: 'usage_limit_wait', project: 'seeu', until: '2026-05-01T13:02:00.000Z' };

describe('notify', () => {
  test('the event goes to the hook as JSON on stdin, with type, project and text in the environment', async () => {
    const r = await notify(
      cfg(
        'cat > event.json; printf "%s|%s|%s" "$ORCHESTRATE_EVENT" "$ORCHESTRATE_PROJECT" "$ORCHESTRATE_EVENT_TEXT" > env.txt',
      ),
      wait,
    );
    expect(r).toEqual({ ran: true, ok: true, exitCode: 0, signal: null, timedOut: false, error: null });
    const sent = JSON.parse(readFileSync(path.join(dir, 'event.json'), 'utf8'));
    expect(sent).toMatchObject({ ...wait, host: os.hostname(), text: eventText(wait) });
    expect(Date.parse(sent.at)).toBeGreaterThan(Date.now() - 10_000);
    expect(readFileSync(path.join(dir, 'env.txt'), 'utf8')).toBe(
      `usage_limit_wait|seeu|seeu: usage limit reached; the job waits until ${wait.until}`,
    );
  });

  test('no hook configured: nothing runs', async () => {
    expect(await notify(cfg(null), wait)).toMatchObject({ ran: false, ok: true });
  });

  test('a failing hook is logged with its stderr and reported, never thrown', async () => {
    const logged: string[] = [];
    const r = await notify(cfg('echo "webhook said 500" >&2; exit 3'), wait, { log: (m) => logged.push(m) });
    expect(r).toMatchObject({ ran: true, ok: false, exitCode: 3, timedOut: false });
    expect(r.error).toBe('exit 3: webhook said 500');
    expect(logged).toEqual([
      'notify: [notify] command failed for the usage_limit_wait event: exit 3: webhook said 500',
    ]);
  });

  test('a hung hook is killed (with what it started) at the timeout', async () => {
    const logged: string[] = [];
    const t0 = Date.now();
    const r = await notify(cfg(`sleep 30 & echo $! > child.pid; wait`), wait, {
      timeoutMs: 300,
      log: (m) => logged.push(m),
    });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r).toMatchObject({ ok: false, timedOut: true });
    expect(logged[0]).toMatch(/still running after 300ms; killed/);
    const pid = Number(readFileSync(path.join(dir, 'child.pid'), 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    // The whole process group is gone (at most a zombie waiting for init to reap it).
    const stat = (() => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        return null;
      }
    })();
    if (stat) expect(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)).toBe('Z');
  });

  test('a hook that ignores stdin is fine, and a huge message still fits the environment', async () => {
    const r = await notify(cfg('echo -n "$ORCHESTRATE_EVENT_TEXT" | wc -c > len.txt'), {
      ...wait,
      message: 'x'.repeat(300_000),
    });
    expect(r.ok).toBe(true);
    expect(Number(readFileSync(path.join(dir, 'len.txt'), 'utf8').trim())).toBeLessThanOrEqual(1000 * 3);
  });
});

describe('job_failed events', () => {
  const info = {
    workflowNamespace: 'default',
    workflowExecution: { workflowId: 'job/seea', runId: 'r-1' },
    attempt: 1,
  };
  const config = { server: { ip: '127.0.0.1', port: 7233, uiPort: 8233, namespace: 'default' } };
  const plan = { project: 'seea', kind: 'cycle' as const };

  test('failures are reported with a Web UI link; success, cancel, usage-limit waits and retried attempts are not', () => {
    const e = jobFailedEvent(
      config,
      plan,
      { outcome: 'timed_out', message: 'seea: agent ran longer', durationMs: 90_000 },
      info,
    );
    expect(e).toMatchObject({
      type: 'job_failed',
      project: 'seea',
      kind: 'cycle',
      outcome: 'timed_out',
      workflowId: 'job/seea',
      runId: 'r-1',
      webUrl: expect.stringMatching(/\/namespaces\/default\/workflows\/job%2Fseea\/r-1$/),
    });
    expect(eventText(e!)).toBe('seea: cycle job timed_out after 1m30s — agent ran longer');
    for (const outcome of ['succeeded', 'cancelled', 'usage_limit'] as const)
      expect(jobFailedEvent(config, plan, { outcome }, info)).toBeNull();
    expect(jobFailedEvent(config, plan, { outcome: 'crashed' }, info, { final: false })).toBeNull();
    expect(jobFailedEvent(config, plan, { outcome: 'crashed' }, info)).not.toBeNull();
  });
});

describe('status rendering', () => {
  test('running jobs, projects and next schedule runs in the configured timezone; no escapes', () => {
    const now = Date.parse('2026-05-01T12:00:00Z');
    const r: StatusReport = {
      server: { address: '127.0.0.1:7233', namespace: 'default', reachable: true, error: null },
      webUi: 'http://127.0.0.1:8233',
      taskQueue: 'orchestrate',
      timezone: 'Europe/London',
      running: [
        {
          workflowId: 'job/seea',
          runId: 'r',
          project: 'seea',
          kind: 'cycle',
          startedAt: '2026-05-01T11:58:00Z',
          elapsedMs: 125_000,
          pid: 4242,
          phase: 'running agent',
          lastLine: 'says: editing the parser',
          attempt: null,
          webUrl: 'http://x',
        },
      ],
      batches: [],
      projects: [
        {
          project: 'seea',
          state: 'running',
          last: {
            project: 'seea',
            outcome: 'timed_out',
            finishedAt: '2026-05-01T10:00:00Z',
            workflowId: 'job/seea',
            runId: 'q',
          },
          todayUsd: 1.5,
          budgetUsd: 25,
        },
        { project: 'seeb', state: 'paused', last: null, todayUsd: 0, budgetUsd: null },
      ],
      schedules: [
        {
          id: 'orchestrate-eod',
          paused: false,
          description: 'EOD daily at 23:00 (Europe/London)',
          nextRuns: ['2026-05-01T22:00:00Z'],
          recentRuns: [],
        },
      ],
      hosts: [
        { host: 'mini', taskQueue: 'orchestrate@mini', workers: 0 },
        { host: 'big', taskQueue: 'orchestrate@big', workers: 1 },
      ],
    };
    const text = renderStatus(r, now);
    expect(text).toContain(
      'no worker for host mini: its jobs wait on queue orchestrate@mini — run `orchestrate worker --host mini` there',
    );
    expect(text).not.toContain('no worker for host big');
    expect(text).not.toContain(String.fromCharCode(27));
    expect(text).toMatch(/seea\s+cycle\s+2m05s\s+4242\s+running agent · says: editing the parser/);
    expect(text).toMatch(/seea\s+running\s+timed_out\s+2026-05-01 11:00 \(2h00m ago\)\s+\$1\.5000 of \$25/);
    expect(text).toMatch(/seeb\s+paused\s+—/);
    expect(text).toMatch(
      /orchestrate-eod\s+active\s+EOD daily at 23:00 \(Europe\/London\)\s+2026-05-01 23:00 \(in 10h00m\)/,
    );
  });
});

test('--since: durations, days in the timezone, ISO times; anything else is a usage error', () => {
  const now = new Date('2026-07-10T12:00:00Z');
  expect(parseSince('7d', 'Europe/London', now).toISOString()).toBe('2026-07-03T12:00:00.000Z');
  expect(parseSince('90m', 'Europe/London', now).toISOString()).toBe('2026-07-10T10:30:00.000Z');
  expect(parseSince('2026-07-01', 'Europe/London', now).toISOString()).toBe('2026-06-30T23:00:00.000Z');
  expect(parseSince('today', 'Europe/London', now).toISOString()).toBe('2026-07-09T23:00:00.000Z');
  expect(parseSince('yesterday', 'Europe/London', now).toISOString()).toBe('2026-07-08T23:00:00.000Z');
  expect(parseSince('2026-07-01T08:00:00Z', 'Europe/London', now).toISOString()).toBe('2026-07-01T08:00:00.000Z');
  expect(() => parseSince('7', 'Europe/London', now)).toThrow(/--since must be/);
  expect(() => parseSince('soon', 'Europe/London', now)).toThrow(/--since must be/);
});

test("the agent's last line, readable in status", () => {
  expect(
    describeLine(
      '{"type":"assistant","message":{"content":[{"type":"text","text":"Fixing the \\"parser\\" now\\nthen tests',
    ),
  ).toBe('says: Fixing the "parser" now then tests');
  expect(
    describeLine('{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t","name":"Edit","input":{'),
  ).toBe('tool: Edit');
  expect(describeLine('{"type":"system","subtype":"init","cwd":"/x"}')).toBe('system/init');
  expect(describeLine('{"type":"user","message":{"content":[{"tool_use_id":"t","type":"tool_result"')).toBe(
    'tool result',
  );
  expect(describeLine('plain progress text')).toBe('plain progress text');
  expect(describeLine('')).toBeNull();
});

test('init names projects after their folders, valid and unique', () => {
  const taken = new Set<string>();
  expect(projectName('/code/app', taken)).toBe('app');
  expect(projectName('/code/group/app', taken)).toBe('group-app');
  expect(projectName('/other/group/app', taken)).toBe('app-2');
  expect(projectName('/code/My App (old)', taken)).toBe('My-App-old');
  expect(projectName('/code/.hidden', taken)).toBe('hidden');
});
