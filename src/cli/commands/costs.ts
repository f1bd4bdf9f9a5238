// `orchestrate costs`: agent spend per project per day (in the configured timezone), from the cost ledger.
import type { Command } from 'commander';
import { localDate } from '../../lib/dates';
import { formatDuration } from '../../lib/duration';
import { readLedgers, type LedgerEntry } from '../../lib/ledger';
import { jobFailed } from '../../lib/outcomes';
import { getConfig, print } from '../common';
import { parseSince } from '../options';
import { formatCount, formatUsd, formatWhen } from '../render/format';
import { renderTable } from '../render/table';
import { selectProjects } from './history';

export interface CostRow {
  day: string;
  project: string;
  jobs: number;
  /** Jobs that failed (they may still have cost money); a cancelled job is not a failure. */
  failed: number;
  costUsd: number;
  /** Jobs whose agent reported no cost (not counted in costUsd). */
  unknownCost: number;
  numTurns: number;
  durationMs: number;
  tokens: { input: number; output: number; cacheRead: number; cacheCreation: number };
}

export function costRows(entries: LedgerEntry[], tz: string): CostRow[] {
  const rows = new Map<string, CostRow>();
  for (const e of entries) {
    const day = localDate(new Date(e.finishedAt), tz);
    const key = `${day}\u0000${e.project}`;
    let r = rows.get(key);
    if (!r) {
      r = { day, project: e.project, ...zeroTotals() };
      rows.set(key, r);
    }
    r.jobs++;
    if (jobFailed(e.outcome)) r.failed++;
    if (e.costUsd === null) r.unknownCost++;
    else r.costUsd += e.costUsd;
    r.numTurns += e.numTurns ?? 0;
    r.durationMs += e.durationMs ?? 0;
    if (e.tokens) {
      r.tokens.input += e.tokens.input;
      r.tokens.output += e.tokens.output;
      r.tokens.cacheRead += e.tokens.cacheRead;
      r.tokens.cacheCreation += e.tokens.cacheCreation;
    }
  }
  return [...rows.values()].sort((a, b) => a.day.localeCompare(b.day) || a.project.localeCompare(b.project));
}

function cells(r: Omit<CostRow, 'day' | 'project'>, day: string, project: string): string[] {
  const t = r.tokens;
  return [
    day,
    project,
    String(r.jobs),
    String(r.failed),
    formatUsd(r.costUsd) + (r.unknownCost ? ` (+${r.unknownCost} n/a)` : ''),
    String(r.numTurns),
    formatDuration(r.durationMs),
    t.input || t.output ? `${formatCount(t.input + t.cacheRead + t.cacheCreation)}/${formatCount(t.output)}` : '',
  ];
}

function zeroTotals(): Omit<CostRow, 'day' | 'project'> {
  return {
    jobs: 0,
    failed: 0,
    costUsd: 0,
    unknownCost: 0,
    numTurns: 0,
    durationMs: 0,
    tokens: { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 },
  };
}

function sum(rows: CostRow[]): Omit<CostRow, 'day' | 'project'> {
  const z = zeroTotals();
  for (const r of rows) {
    z.jobs += r.jobs;
    z.failed += r.failed;
    z.costUsd += r.costUsd;
    z.unknownCost += r.unknownCost;
    z.numTurns += r.numTurns;
    z.durationMs += r.durationMs;
    z.tokens.input += r.tokens.input;
    z.tokens.output += r.tokens.output;
    z.tokens.cacheRead += r.tokens.cacheRead;
    z.tokens.cacheCreation += r.tokens.cacheCreation;
  }
  return z;
}

export function renderCosts(rows: CostRow[]): string {
  const table: string[][] = [];
  const days = [...new Set(rows.map((r) => r.day))];
  for (const day of days) {
    const ofDay = rows.filter((r) => r.day === day);
    for (const r of ofDay) table.push(cells(r, day, r.project));
    if (ofDay.length > 1) table.push(cells(sum(ofDay), day, '(all)'));
  }
  return renderTable(['DAY', 'PROJECT', 'JOBS', 'FAILED', 'COST', 'TURNS', 'AGENT TIME', 'TOKENS IN/OUT'], table);
}

export async function costs(opts: { since: string; project?: string[]; json?: boolean }, cmd: Command): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  const tz = config.orchestrator.timezone;
  const since = parseSince(opts.since, tz);
  const projects = await selectProjects(config, opts.project);
  const rows = costRows(await readLedgers(config.orchestrator.stateDir, { projects, from: since }), tz);
  const total = sum(rows);
  if (opts.json) {
    print(JSON.stringify({ since: since.toISOString(), timezone: tz, rows, totalUsd: total.costUsd }));
    return;
  }
  const when = `since ${formatWhen(since, tz)} (${tz})`;
  if (!rows.length) {
    print(`no jobs ${when}`);
    return;
  }
  print(renderCosts(rows));
  print(
    `\ntotal ${when}: $${total.costUsd.toFixed(4)} over ${total.jobs} job${total.jobs === 1 ? '' : 's'}` +
      (total.unknownCost ? ` (${total.unknownCost} without a reported cost)` : ''),
  );
}
