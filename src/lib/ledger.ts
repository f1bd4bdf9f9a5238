// The cost ledger: one JSON line per finished agent job, per project, under <state_dir>/ledger/.
// Append-only files are crash-safe enough for bookkeeping and need no database server; the budget gate, the
// EOD digest and `orchestrate costs` read it. A crash mid-append leaves a torn last line: the next append
// starts on a fresh line rather than gluing its record onto the torn one, and the reader skips only the torn
// part, keeping every whole record (also one glued onto a torn line by an older version).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { JobKind, Outcome, TokenUsage } from '../temporal/types';

export interface LedgerEntry {
  finishedAt: string;
  project: string;
  kind: JobKind;
  outcome: Outcome;
  costUsd: number | null;
  numTurns: number | null;
  durationMs: number | null;
  logPath: string | null;
  // Optional: lines written before these fields existed lack them.
  tokens?: TokenUsage | null;
  workflowId?: string;
  runId?: string;
  attempt?: number;
  /** What happened, for failed jobs (the outcome's one-sentence message). */
  message?: string | null;
  /**
   * This line replaces the earlier line of the same job (same workflow run and run folder): a verdict reached
   * after the agent ended, e.g. an EOD whose work log is missing failed although its agent exited 0. Readers
   * see one entry per job, the corrected one, at the original line's finishedAt (its day stays the same).
   */
  correction?: boolean;
}

/** Which job a line is about: a correction names the same workflow run and run folder. */
function jobKey(e: LedgerEntry): string | null {
  return e.workflowId && e.runId && e.logPath ? `${e.workflowId}\n${e.runId}\n${e.logPath}` : null;
}

/** The ledger's lines with each correction applied in place of the line it corrects (file order kept). */
function applyCorrections(lines: LedgerEntry[]): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  const at = new Map<string, number>();
  for (const e of lines) {
    const key = jobKey(e);
    const earlier = key === null ? undefined : at.get(key);
    if (e.correction && earlier !== undefined) {
      out[earlier] = { ...e, finishedAt: out[earlier].finishedAt };
      continue;
    }
    if (key !== null) at.set(key, out.length);
    out.push(e);
  }
  return out;
}

function ledgerFile(stateDir: string, project: string): string {
  return path.join(stateDir, 'ledger', `${project}.jsonl`);
}

export async function appendLedger(stateDir: string, entry: LedgerEntry): Promise<void> {
  const file = ledgerFile(stateDir, entry.project);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const torn = !(await endsWithNewline(file));
  await fs.appendFile(file, (torn ? '\n' : '') + JSON.stringify(entry) + '\n');
}

/** True for a missing or empty file, or one whose last byte is a newline. */
async function endsWithNewline(file: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    await handle.close();
  }
}

/** Where each record starts: a whole record glued after a torn one is still found. */
const RECORD_START = '{"finishedAt":';

/** The records of one ledger line: the line itself, or the whole records glued after a torn one. */
function lineRecords(line: string): LedgerEntry[] {
  try {
    const entry = JSON.parse(line) as LedgerEntry;
    if (typeof entry?.finishedAt === 'string') return [entry];
  } catch {
    // A line torn by a crash mid-write, maybe with a later record glued on: keep what parses.
  }
  const records: LedgerEntry[] = [];
  let at = line.indexOf(RECORD_START, 1);
  while (at >= 0) {
    const next = line.indexOf(RECORD_START, at + 1);
    try {
      const entry = JSON.parse(line.slice(at, next < 0 ? undefined : next)) as LedgerEntry;
      if (typeof entry?.finishedAt === 'string') records.push(entry);
    } catch {
      // torn too
    }
    at = next;
  }
  return records;
}

/** Entries of one project finished in [from, to). A missing ledger is an empty one. */
export async function readLedger(stateDir: string, project: string, from?: Date, to?: Date): Promise<LedgerEntry[]> {
  let text: string;
  try {
    text = await fs.readFile(ledgerFile(stateDir, project), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const lines: LedgerEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    lines.push(...lineRecords(line));
  }
  return applyCorrections(lines).filter((entry) => {
    const t = Date.parse(entry.finishedAt);
    return !(from && t < from.getTime()) && !(to && t >= to.getTime());
  });
}

/** Sum of known costs of a project's jobs in [from, to). */
export async function spentUsd(stateDir: string, project: string, from: Date, to: Date): Promise<number> {
  const entries = await readLedger(stateDir, project, from, to);
  return entries.reduce((sum, e) => sum + (e.costUsd ?? 0), 0);
}

/** Projects that have a ledger file (including ones no longer in the config). */
export async function ledgerProjects(stateDir: string): Promise<string[]> {
  try {
    const names = await fs.readdir(path.join(stateDir, 'ledger'));
    return names
      .filter((n) => n.endsWith('.jsonl'))
      .map((n) => n.slice(0, -'.jsonl'.length))
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Entries of these projects (default: every ledger) finished in [from, to), oldest first. */
export async function readLedgers(
  stateDir: string,
  opts: { projects?: string[]; from?: Date; to?: Date } = {},
): Promise<LedgerEntry[]> {
  const projects = opts.projects ?? (await ledgerProjects(stateDir));
  const all = (await Promise.all(projects.map((p) => readLedger(stateDir, p, opts.from, opts.to)))).flat();
  return all.sort((a, b) => Date.parse(a.finishedAt) - Date.parse(b.finishedAt));
}
