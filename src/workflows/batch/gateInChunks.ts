// A cycle's gates in chunks, per host, so a project's job can start as soon as its own chunk's decisions (and those
// of its host's earlier chunks: jobs start in the batch's order) are back. A host's first chunk is `concurrency`
// projects (the first wave waits for its own gates only), each next one twice the one before, up to GATE_CHUNK_MAX;
// two chunks per host are in flight at once, so the next decisions are usually in before slots free up, and a host
// runs at most twice the gate processes one evaluation runs. With `firstChunkFirst`, a host's later chunks wait for
// its first one: the first wave's gates (their running-job lookups are server round trips) share the server and
// the worker with nothing else of the cycle. The table has every selected project's row from the start, in the
// batch's order: a row waits at `pending` until its gates decide, then holds the same decision, status and reason
// as if all the gates had been evaluated first.
import { isCancellation } from '@temporalio/workflow';
import { taskQueueFor } from '../../temporal/ids';
import type { BatchRow, GateDecision } from '../../temporal/types';
import type { Batch } from './open';
import { rowsFor } from './progress';
import { evaluateGatesOn, noWorkerReason } from './proxies';
import type { GatedJob } from './runJobs';

/** The largest chunk of projects one gate evaluation gets. */
const GATE_CHUNK_MAX = 100;
/** Gate evaluations in flight at once per host. */
const CHUNKS_IN_FLIGHT = 2;

/** A gated row's reason until its gates decide. */
export const GATING_NOTE = 'waiting for its gates';

export interface GatedCycle {
  /** The batch's projects in its order, each with its gates' verdict to come. */
  jobs: GatedJob[];
  /**
   * Settles when every chunk is in. A cancelled cycle's undecided rows are marked cancelled (their jobs never
   * start); a failure of the shared queue's gates rejects it, and the cycle fails.
   */
  done: Promise<void>;
  /** Settles (never rejects) when every host's first chunk has answered or failed. */
  firstChunks: Promise<void>;
}

/**
 * Fills in the batch's table (every row pending its gates, disabled ones skipped) and starts the gates; with
 * `firstChunkFirst`, each host's later chunks once its first chunk has answered.
 */
export function gateInChunks(batch: Batch, selected: string[], firstChunkFirst = false): GatedCycle {
  const { state, projectNamed } = batch;
  const at = new Date().toISOString();
  // Disabled projects are decided here: no need to reach their host for them.
  const disabled = (p: string) => projectNamed(p)?.enabled === false;
  state.rows = rowsFor(
    selected.map((project) =>
      disabled(project)
        ? {
            project,
            decision: 'skip',
            gate: 'enabled',
            reason: `disabled in config (enabled = false in [projects.${project}])`,
          }
        : { project, decision: 'run', gate: 'pending', reason: GATING_NOTE },
    ),
  );
  const rowsOf = new Map<string, BatchRow[]>();
  for (const row of state.rows) {
    const rows = rowsOf.get(row.project);
    if (rows) rows.push(row);
    else rowsOf.set(row.project, [row]);
  }
  const verdicts = new Map<string, { settle: (runs: boolean) => void; runs: Promise<boolean> }>();
  for (const project of rowsOf.keys()) {
    let settle: (runs: boolean) => void = () => undefined;
    const runs = new Promise<boolean>((resolve) => (settle = resolve));
    verdicts.set(project, { settle, runs: disabled(project) ? Promise.resolve(false) : runs });
  }
  const undecided = new Set([...rowsOf.keys()].filter((p) => !disabled(p)));
  const decided = new Map<string, boolean>();
  const released = new Set<string>();

  // A row shows its decision as soon as it is in; its job is let go in the batch's order within its host (a chunk
  // that answers before an earlier one waits for it), so that the first jobs of an account still run first and
  // their usage limit or auth failure is known before the rest of the account starts.
  const decide = (d: GateDecision) => {
    if (!undecided.delete(d.project)) return;
    for (const row of rowsOf.get(d.project) ?? []) {
      Object.assign(row, {
        decision: d.decision,
        status: d.decision === 'run' ? 'pending' : 'skipped',
        reason: d.reason,
      });
    }
    decided.set(d.project, d.decision === 'run');
  };
  const releaseInOrder = (projects: string[]) => {
    let next = 0;
    return () => {
      for (; next < projects.length && decided.has(projects[next]); next++) {
        released.add(projects[next]);
        verdicts.get(projects[next])?.settle(decided.get(projects[next]) ?? false);
      }
    };
  };

  const hosts = new Map<string | null, string[]>();
  for (const project of undecided) {
    const host = projectNamed(project)?.host ?? null;
    const projects = hosts.get(host);
    if (projects) projects.push(project);
    else hosts.set(host, [project]);
  }
  const firsts: Array<Promise<void>> = [];
  const done = Promise.all(
    [...hosts].map(([host, projects]) => {
      let firstAnswered: () => void = () => undefined;
      firsts.push(new Promise<void>((resolve) => (firstAnswered = resolve)));
      const chunking = { firstChunkFirst, firstAnswered };
      return gateHost(batch, host, projects, at, decide, releaseInOrder(projects), chunking).finally(firstAnswered);
    }),
  ).then(
    () => undefined,
    (err: unknown) => {
      if (!isCancellation(err)) throw err;
      // Nothing more starts: undecided rows, and decided ones still waiting for an earlier chunk, end here.
      for (const project of undecided) decided.set(project, false);
      undecided.clear();
      for (const [project, runs] of decided) {
        if (released.has(project)) continue;
        for (const row of rowsOf.get(project) ?? []) {
          if (runs || row.status === 'pending')
            Object.assign(row, { status: 'cancelled', reason: 'batch cancelled before its gates decided' });
        }
        released.add(project);
        verdicts.get(project)?.settle(false);
      }
    },
  );
  return {
    jobs: selected.map((project) => ({ project, runs: verdicts.get(project)!.runs })),
    done,
    firstChunks: Promise.all(firsts).then(() => undefined),
  };
}

/**
 * One host's gates, CHUNKS_IN_FLIGHT chunks at a time (with `firstChunkFirst`, once its first chunk is in): each
 * project decided (no worker for the host: skipped), and `release` called after each chunk to let go the jobs whose
 * earlier projects are all decided; `firstAnswered` once its first chunk is decided.
 */
async function gateHost(
  { snap, hostWaitMs }: Batch,
  host: string | null,
  projects: string[],
  at: string,
  decide: (d: GateDecision) => void,
  release: () => void,
  { firstChunkFirst, firstAnswered }: { firstChunkFirst: boolean; firstAnswered: () => void },
): Promise<void> {
  const chunks = chunksOf(projects, snap.concurrency);
  const evaluate = evaluateGatesOn(taskQueueFor(snap.taskQueue, host), host, hostWaitMs);
  let next = 0;
  let noWorker = false;
  const gateNext = async () => {
    const first = next === 0;
    const chunk = chunks[next++];
    let decisions: GateDecision[] | null = null;
    if (!noWorker) {
      try {
        decisions = await evaluate({ projects: chunk, at });
      } catch (err) {
        if (!host || isCancellation(err)) throw err;
        // A host whose worker is down: the rest of its projects are skipped without waiting again.
        noWorker = true;
      }
    }
    const found = new Map((decisions ?? []).map((d) => [d.project, d]));
    for (const project of chunk) {
      decide(
        found.get(project) ??
          (decisions
            ? { project, decision: 'error', gate: 'internal', reason: 'no gate decision' }
            : { project, decision: 'error', gate: 'host', reason: noWorkerReason(host ?? '') }),
      );
    }
    release();
    if (first) firstAnswered();
  };
  const lane = async () => {
    while (next < chunks.length) await gateNext();
  };
  if (firstChunkFirst && chunks.length > 0) await gateNext();
  await Promise.all(Array.from({ length: Math.min(CHUNKS_IN_FLIGHT, chunks.length - next) }, lane));
}

/** A host's projects in chunks: `first` projects, then each chunk twice the one before, up to GATE_CHUNK_MAX. */
export function chunksOf(projects: string[], first: number): string[][] {
  const chunks: string[][] = [];
  let size = Math.max(1, first);
  for (let i = 0; i < projects.length; i += size, size = Math.min(GATE_CHUNK_MAX, size * 2)) {
    chunks.push(projects.slice(i, i + size));
  }
  return chunks;
}
