// `orchestrate status`: one view across every project — running jobs (project, kind, elapsed, pid, phase),
// running batches, each project's state and last outcome, today's spend, the schedules' next runs, and
// where the server and the Web UI are.
import type { Command } from 'commander';
import { taskQueueFor } from '../../temporal/ids';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PAUSE_FILE, pausedMarker } from '../../gates';
import { queuePollers } from '../../temporal/client';
import type { Config } from '../../config';
import { temporalTarget, webUiUrl } from '../../temporal/connection';
import { dayBounds, localDate } from '../../lib/dates';
import { spentUsd } from '../../lib/ledger';
import { describeSchedules, type ScheduleRow } from '../../temporal/schedules';
import { uiWorkflowUrl } from '../../temporal/ui';
import { getConfig, print, tryConnect } from '../common';
import { EXIT } from '../errors';
import { formatRelative, formatUsd, formatWhen } from '../render/format';
import {
  lastOutcomes,
  runningBatches,
  runningJobs,
  type LastOutcome,
  type RunningBatch,
  type RunningJob,
} from '../inspect';
import { formatElapsed } from '../../lib/duration';
import { renderTable } from '../render/table';
import { clipAtWord } from '../../lib/clip';
import { noWorkerMessage } from '../workerWatch';
import { progressLine } from '../../lib/agentProgress';

export interface ProjectStatus {
  project: string;
  /** running, paused, disabled, path missing (its jobs fail, its gates error) or idle. */
  state: 'running' | 'paused' | 'disabled' | 'path missing' | 'idle';
  last: LastOutcome | null;
  todayUsd: number;
  /** [gates] max_daily_usd, when set. */
  budgetUsd: number | null;
}

export interface StatusReport {
  server: { address: string; namespace: string; reachable: boolean; error: string | null };
  webUi: string;
  taskQueue: string;
  timezone: string;
  running: Array<RunningJob & { webUrl: string }>;
  batches: Array<RunningBatch & { webUrl: string }>;
  projects: ProjectStatus[];
  schedules: ScheduleRow[];
  /** Workers polling the shared task queue (0 = jobs without a host, cycles and schedules wait); null: unknown. */
  sharedQueueWorkers?: number | null;
  /** Hosts named by projects, with how many workers poll their queue (0 = their jobs wait). */
  hosts: Array<{ host: string; taskQueue: string; workers: number }>;
}

function isPaused(config: Config, name: string): boolean {
  const p = config.projects[name];
  return existsSync(pausedMarker(config.orchestrator.stateDir, name)) || existsSync(path.join(p.path, PAUSE_FILE));
}

export async function gatherStatus(config: Config): Promise<StatusReport> {
  const ui = webUiUrl(config);
  const tz = config.orchestrator.timezone;
  const names = Object.keys(config.projects);
  const target = temporalTarget(config);
  const report: StatusReport = {
    server: { address: target.connectionOptions.address, namespace: target.namespace, reachable: false, error: null },
    webUi: ui,
    taskQueue: config.orchestrator.taskQueue,
    timezone: tz,
    running: [],
    batches: [],
    projects: names.map((n) => {
      const p = config.projects[n];
      return {
        project: n,
        state: !p.enabled ? 'disabled' : !existsSync(p.path) ? 'path missing' : isPaused(config, n) ? 'paused' : 'idle',
        last: null,
        todayUsd: 0,
        budgetUsd: p.gates.maxDailyUsd > 0 ? p.gates.maxDailyUsd : null,
      };
    }),
    schedules: [],
    sharedQueueWorkers: null,
    hosts: [],
  };
  // Today's spend is read from the ledger after the server was asked what runs: a job's ledger line is written
  // before its workflow closes, so a job this report shows as finished always has its spend counted.
  const addSpend = async () => {
    const { start, end } = dayBounds(localDate(new Date(), tz), tz);
    const spent = await Promise.all(names.map((n) => spentUsd(config.orchestrator.stateDir, n, start, end)));
    report.projects.forEach((p, i) => (p.todayUsd = spent[i]));
    return report;
  };
  const attempt = await tryConnect(config);
  if (!attempt.connected) {
    report.server.error = attempt.error;
    return addSpend();
  }
  const { client, connection, namespace, address } = attempt.connected;
  report.server = { address, namespace, reachable: true, error: null };
  try {
    const hosts = [...new Set(names.map((n) => config.projects[n].host).filter((h): h is string => Boolean(h)))];
    const tq = [config.orchestrator.taskQueue, ...hosts.map((h) => taskQueueFor(config.orchestrator.taskQueue, h))];
    const [running, batches, last, schedules, workers, sharedWorkers] = await Promise.all([
      runningJobs(client, connection, tq),
      runningBatches(client, connection, tq),
      lastOutcomes(client, tq, names),
      describeSchedules(client, config.orchestrator.taskQueue),
      Promise.all(hosts.map((h) => queuePollers(client, namespace, taskQueueFor(config.orchestrator.taskQueue, h)))),
      queuePollers(client, namespace, config.orchestrator.taskQueue),
    ]);
    report.sharedQueueWorkers = sharedWorkers;
    report.hosts = hosts.map((host, i) => ({
      host,
      taskQueue: taskQueueFor(config.orchestrator.taskQueue, host),
      workers: workers[i],
    }));
    const link = (id: string, run: string) => uiWorkflowUrl(ui, namespace, id, run);
    report.running = running.map((j) => ({ ...j, webUrl: link(j.workflowId, j.runId) }));
    report.batches = batches.map((b) => ({ ...b, webUrl: link(b.workflowId, b.runId) }));
    report.schedules = schedules;
    for (const p of report.projects) {
      p.last = last.get(p.project) ?? null;
      if (running.some((j) => j.project === p.project)) p.state = 'running';
    }
  } finally {
    await connection.close();
  }
  return addSpend();
}

/** The status screen, top to bottom as it is printed (a little over 80 lines: one section after another). */
export function renderStatus(r: StatusReport, now = Date.now()): string {
  const tz = r.timezone;
  const out: string[] = [];
  if (r.server.reachable) {
    out.push(`Temporal  ${r.server.address} · namespace ${r.server.namespace} · task queue ${r.taskQueue}`);
  } else {
    out.push(`Temporal  not reachable: ${r.server.error}`);
  }
  out.push(`Web UI    ${r.webUi}`, '');
  if (r.sharedQueueWorkers === 0) out.push(noWorkerMessage(r.taskQueue), '');
  for (const h of r.hosts ?? []) {
    if (h.workers === 0) {
      out.push(
        `no worker for host ${h.host}: its jobs wait on queue ${h.taskQueue} — run \`orchestrate worker --host ${h.host}\` there`,
      );
    }
  }
  if (r.hosts?.some((h) => h.workers === 0)) out.push('');

  if (r.server.reachable) {
    if (!r.running.length) out.push('Running jobs: none', '');
    else {
      out.push(
        'Running jobs',
        renderTable(
          ['PROJECT', 'KIND', 'ELAPSED', 'PID', 'PHASE'],
          r.running.map((j) => [
            j.project,
            j.kind,
            formatElapsed(j.elapsedMs),
            j.pid === null ? '' : String(j.pid),
            jobPhase(j, now),
          ]),
        ),
        '',
      );
    }
    if (r.batches.length) {
      out.push(
        'Running batches',
        renderTable(
          ['BATCH', 'KIND', 'ELAPSED', 'PROGRESS'],
          r.batches.map((b) => [b.workflowId, b.kind, formatElapsed(b.elapsedMs), b.progress]),
        ),
        '',
      );
    }
  }

  if (!r.projects.length) out.push('Projects: none (add [projects.<name>] to the config, or run `orchestrate init`)');
  else
    out.push(
      'Projects',
      renderTable(
        ['PROJECT', 'STATE', 'LAST OUTCOME', 'FINISHED', 'TODAY'],
        r.projects.map((p) => [
          p.project,
          p.state,
          p.last?.outcome ?? (r.server.reachable ? '—' : '?'),
          p.last?.finishedAt ? `${formatWhen(p.last.finishedAt, tz)} (${formatRelative(p.last.finishedAt, now)})` : '',
          formatUsd(p.todayUsd) + (p.budgetUsd !== null ? ` of $${p.budgetUsd}` : ''),
        ]),
      ),
    );

  if (r.server.reachable) {
    out.push('');
    if (!r.schedules.length) out.push('Schedules: none (`orchestrate schedule apply` creates them from the config)');
    else
      out.push(
        'Schedules',
        renderTable(
          ['SCHEDULE', 'STATE', 'WHEN', 'NEXT RUN'],
          r.schedules.map((s) => [
            s.id,
            s.paused ? 'paused' : 'active',
            s.description,
            s.nextRuns[0] ? `${formatWhen(s.nextRuns[0], tz)} (${formatRelative(s.nextRuns[0], now)})` : '',
          ]),
        ),
      );
  } else {
    out.push(
      '',
      'Start the server with `orchestrate server start` (or `orchestrate up`), or point TEMPORAL_ADDRESS at yours.',
    );
  }
  return out.join('\n');
}

/** The job's phase, then its progress (turn, tool, cost so far) or, for an agent without events, its last line. */
function jobPhase(j: RunningJob, now: number): string {
  const more = progressLine(j.progress ?? null, now) ?? (j.lastLine ? clip(j.lastLine, 60) : null);
  return more ? `${j.phase} · ${more}` : j.phase;
}

const clip = (s: string, n: number) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return clipAtWord(flat, n);
};

/** Exit 1 when the server cannot be reached: the local view still prints. */
export async function status(opts: { json?: boolean }, cmd: Command): Promise<number> {
  const config = await getConfig(cmd, { allowMissing: true });
  const report = await gatherStatus(config);
  print(opts.json ? JSON.stringify(report) : renderStatus(report));
  return report.server.reachable ? EXIT.ok : EXIT.failed;
}
