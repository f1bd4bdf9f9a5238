// `orchestrate history`: finished jobs, newest first, from the cost ledger (<state_dir>/ledger/*.jsonl).
// The ledger, not Temporal visibility: visibility forgets closed workflows after the namespace's retention
// (days), while the ledger keeps every job with its cost, turns, tokens and run folder, and reads without a
// server. Jobs that never started an agent (setup errors) are not in it; the Web UI lists those
// (`OrchestrateOutcome = "setup_error"`).
import type { Command } from 'commander';
import type { Config } from '../../config';
import { formatDuration } from '../../lib/duration';
import { ledgerProjects, readLedgers, type LedgerEntry } from '../../lib/ledger';
import { getConfig, print } from '../common';
import { UserError } from '../errors';
import { parseSince } from '../options';
import { formatUsd, formatWhen } from '../render/format';
import { renderTable } from '../render/table';

/** --project names must be in the config or have a ledger (a project removed from the config keeps its history). */
export async function selectProjects(config: Config, wanted?: string[]): Promise<string[] | undefined> {
  if (!wanted?.length) return undefined;
  const withLedger = await ledgerProjects(config.orchestrator.stateDir);
  const known = new Set([...Object.keys(config.projects), ...withLedger]);
  const unknown = wanted.filter((p) => !known.has(p));
  if (unknown.length)
    throw new UserError(
      `unknown project${unknown.length > 1 ? 's' : ''} ${unknown.map((p) => `"${p}"`).join(', ')} — known projects: ${[...known].sort().join(', ') || '(none)'}`,
    );
  return wanted;
}

export async function history(
  opts: { project?: string[]; since: string; limit: string; json?: boolean },
  cmd: Command,
): Promise<void> {
  const config = await getConfig(cmd, { allowMissing: true });
  const tz = config.orchestrator.timezone;
  const since = parseSince(opts.since, tz);
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new UserError(`--limit must be a positive integer, got "${opts.limit}"`);
  const projects = await selectProjects(config, opts.project);
  const all = await readLedgers(config.orchestrator.stateDir, { projects, from: since });
  const shown = all.reverse().slice(0, limit);
  if (opts.json) {
    // Only the JSON carries Web UI links; their helpers load the Temporal SDK, so only this branch loads them.
    const [{ webUiUrl }, { uiWorkflowUrl }] = await Promise.all([
      import('../../temporal/connection'),
      import('../../temporal/ui'),
    ]);
    const ui = webUiUrl(config);
    print(
      JSON.stringify(
        shown.map((e) => ({
          ...e,
          webUrl: e.workflowId && e.runId ? uiWorkflowUrl(ui, config.server.namespace, e.workflowId, e.runId) : null,
        })),
      ),
    );
    return;
  }
  if (!shown.length) {
    print(`no finished jobs since ${formatWhen(since, tz)} (${tz})${projects ? ` for ${projects.join(', ')}` : ''}`);
    return;
  }
  print(renderHistory(shown, tz));
  const total = all.reduce((s, e) => s + (e.costUsd ?? 0), 0);
  print(
    `\n${all.length} job${all.length === 1 ? '' : 's'} since ${formatWhen(since, tz)} (${tz}) · $${total.toFixed(4)}` +
      (all.length > shown.length ? ` · showing the newest ${shown.length} (--limit)` : ''),
  );
}

export function renderHistory(entries: LedgerEntry[], tz: string): string {
  return renderTable(
    ['FINISHED', 'PROJECT', 'KIND', 'OUTCOME', 'DURATION', 'COST', 'TURNS', 'LOG'],
    entries.map((e) => [
      formatWhen(e.finishedAt, tz),
      e.project,
      e.kind,
      e.outcome,
      e.durationMs !== null ? formatDuration(e.durationMs) : '',
      formatUsd(e.costUsd),
      e.numTurns !== null ? String(e.numTurns) : '',
      e.logPath ?? '',
    ]),
  );
}
