// Which projects a cycle runs: disabled ones are skipped here, the rest are gated on the host that has their
// checkout; a host without a worker skips its projects, saying why.
import { isCancellation, setCurrentDetails } from '@temporalio/workflow';
import { taskQueueFor } from '../../temporal/ids';
import type { GateDecision } from '../../temporal/types';
import type { Batch } from './open';
import { evaluateGatesOn, noWorkerReason } from './proxies';

export async function decideCycle(
  { snap, hostWaitMs, projectNamed }: Batch,
  selected: string[],
): Promise<GateDecision[]> {
  setCurrentDetails(`gating: evaluating gates for ${selected.length} projects`);
  const at = new Date().toISOString();
  const hostOf = (name: string) => projectNamed(name)?.host ?? null;
  // Disabled projects are decided here: no need to reach their host for them.
  const disabled = new Set(snap.projects.filter((p) => !p.enabled).map((p) => p.name));
  const toGate = selected.filter((p) => !disabled.has(p));
  const hosts = [...new Set(toGate.map(hostOf))];
  const byHost = await Promise.all(
    hosts.map(async (host): Promise<GateDecision[]> => {
      const projects = toGate.filter((p) => hostOf(p) === host);
      try {
        const queue = taskQueueFor(snap.taskQueue, host);
        return await evaluateGatesOn(queue, host, hostWaitMs)({ projects, at });
      } catch (err) {
        if (!host || isCancellation(err)) throw err;
        const reason = noWorkerReason(host);
        return projects.map((project) => ({ project, decision: 'error' as const, gate: 'host', reason }));
      }
    }),
  );
  const found = new Map(byHost.flat().map((d) => [d.project, d]));
  return selected.map((p): GateDecision => {
    if (disabled.has(p)) {
      return {
        project: p,
        decision: 'skip',
        gate: 'enabled',
        reason: `disabled in config (enabled = false in [projects.${p}])`,
      };
    }
    return found.get(p) ?? { project: p, decision: 'error', gate: 'internal', reason: 'no gate decision' };
  });
}
