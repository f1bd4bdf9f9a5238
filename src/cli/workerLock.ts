// Which `orchestrate up` / `orchestrate worker` processes serve this state folder: one file per process in
// <state_dir>/workers/, naming its pid (with its start time, so a recycled pid is not mistaken for it), the
// queues it polls and the checkout it runs from. A second `up`, or a second worker on the same queue, is
// refused unless --force: it would double the schedules' worker and, from `npm start`, rebuild dist/ under the
// running one.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processStartTicks } from '../runner/processGroup';
import { UserError } from './errors';

export interface WorkerRecord {
  pid: number;
  startTicks: number | null;
  command: 'up' | 'worker';
  queues: string[];
  /** The checkout whose dist/ it runs. */
  checkout: string;
  startedAt: string;
}

export function workersDir(stateDir: string): string {
  return path.join(stateDir, 'workers');
}

/** The live processes recorded in the state folder; files of processes that are gone are removed. */
export function runningWorkers(stateDir: string): WorkerRecord[] {
  const dir = workersDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const live: WorkerRecord[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    let rec: WorkerRecord;
    try {
      rec = JSON.parse(readFileSync(file, 'utf8')) as WorkerRecord;
    } catch {
      continue; // being written, or not ours
    }
    const ticks = processStartTicks(rec.pid);
    if (ticks !== null && (rec.startTicks === null || ticks === rec.startTicks)) live.push(rec);
    else rmSync(file, { force: true });
  }
  return live;
}

/**
 * Refuses (unless `force`) when a process recorded in this state folder already polls one of `queues` (every
 * `up` polls the shared queue, so a second `up` always is refused); otherwise records this process until it
 * exits.
 */
export function claimWorker(
  stateDir: string,
  command: WorkerRecord['command'],
  queues: string[],
  force: boolean,
): void {
  const others = runningWorkers(stateDir).filter((r) => r.pid !== process.pid);
  const clash = others.find((r) => r.queues.some((q) => queues.includes(q)));
  if (clash && !force) {
    throw new UserError(
      `orchestrate ${clash.command} is already running for state folder ${stateDir} (pid ${clash.pid}, since ${clash.startedAt}, polling ${clash.queues.join(', ')}) — stop it first (\`kill ${clash.pid}\`), or pass --force to start another worker anyway`,
    );
  }
  const dir = workersDir(stateDir);
  const file = path.join(dir, `${process.pid}.json`);
  const record: WorkerRecord = {
    pid: process.pid,
    startTicks: processStartTicks(process.pid),
    command,
    queues,
    checkout: path.resolve(__dirname, '..', '..'),
    startedAt: new Date().toISOString(),
  };
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, JSON.stringify(record) + '\n');
  } catch (e) {
    // An unusable state folder must not keep the worker from starting: its jobs fail with the clear setup
    // error that names the folder, which is where the user looks.
    process.stderr.write(
      `note: cannot record this worker in ${dir} (${(e as Error).message}); a second worker for this state folder will not be detected — make orchestrator.state_dir writable\n`,
    );
    return;
  }
  process.once('exit', () => rmSync(file, { force: true }));
}
