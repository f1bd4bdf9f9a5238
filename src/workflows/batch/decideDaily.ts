// Which projects an EOD or rollover runs: every enabled one, no gates; a project pinned to a host without a
// worker is skipped after host_wait, saying why, as in cycles (its job would otherwise wait forever).
import { isCancellation, patched, setCurrentDetails } from '@temporalio/workflow';
import { taskQueueFor } from '../../temporal/ids';
import type { GateDecision } from '../../temporal/types';
import type { Batch } from './open';
import { hostReadyOn, isNoWorker, noWorkerReason } from './proxies';
import { BATCH_HOST_WAIT_PATCH } from '../../temporal/patches';

export async function decideDaily(
  { kind, snap, hostWaitMs, projectNamed }: Batch,
  selected: string[],
): Promise<GateDecision[]> {
  const decisions = selected.map((name): GateDecision => {
    const p = projectNamed(name);
    if (!p) return { project: name, decision: 'error', gate: 'config', reason: `unknown project "${name}"` };
    return p.enabled
      ? { project: name, decision: 'run', gate: 'all', reason: `${kind} for every enabled project` }
      : { project: name, decision: 'skip', gate: 'enabled', reason: 'disabled in config (enabled = false)' };
  });
  const hostOf = (name: string) => projectNamed(name)?.host ?? null;
  const hosts = [...new Set(decisions.filter((d) => d.decision === 'run').flatMap((d) => hostOf(d.project) ?? []))];
  // (patched: EODs and rollovers already running when the host check shipped replay unchanged.)
  if (hosts.length === 0 || !patched(BATCH_HOST_WAIT_PATCH)) return decisions;
  setCurrentDetails(`checking that hosts ${hosts.join(', ')} have a worker`);
  const missing = new Set<string>();
  await Promise.all(
    hosts.map(async (host) => {
      try {
        await hostReadyOn(taskQueueFor(snap.taskQueue, host), host, hostWaitMs)();
      } catch (err) {
        if (isCancellation(err)) throw err;
        // Any other failure means a worker answered: its jobs can run.
        if (isNoWorker(err)) missing.add(host);
      }
    }),
  );
  return decisions.map((d): GateDecision => {
    const host = hostOf(d.project);
    return d.decision === 'run' && host && missing.has(host)
      ? { project: d.project, decision: 'error', gate: 'host', reason: noWorkerReason(host) }
      : d;
  });
}
