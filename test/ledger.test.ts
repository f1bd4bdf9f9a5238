// The cost ledger after a crash mid-append: a torn last line never swallows the next record.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appendLedger, readLedger, type LedgerEntry } from '../src/lib/ledger';

let stateDir: string;
beforeEach(() => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'orch-ledger-'));
});
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

function entry(n: number): LedgerEntry {
  return {
    finishedAt: new Date(Date.UTC(2026, 0, 1, 12, n)).toISOString(),
    project: 'p',
    kind: 'run',
    outcome: 'succeeded',
    costUsd: n,
    numTurns: 1,
    durationMs: 1000,
    logPath: null,
  };
}

const file = () => path.join(stateDir, 'ledger', 'p.jsonl');

test('a torn last line (crash mid-append): the next append starts a fresh line and every whole record is read', async () => {
  await appendLedger(stateDir, entry(1));
  // A crash half-way through writing the second record.
  const torn = JSON.stringify(entry(2));
  appendFileSync(file(), torn.slice(0, Math.floor(torn.length / 2)));
  await appendLedger(stateDir, entry(3));
  await appendLedger(stateDir, entry(4));
  const lines = readFileSync(file(), 'utf8').split('\n');
  expect(lines[2]).toBe(JSON.stringify(entry(3)));
  expect((await readLedger(stateDir, 'p')).map((e) => e.costUsd)).toEqual([1, 3, 4]);
});

test('a record glued onto a torn line by an older version is still read', async () => {
  await appendLedger(stateDir, entry(1));
  const torn = JSON.stringify(entry(2));
  appendFileSync(file(), torn.slice(0, 40) + JSON.stringify(entry(3)) + '\n');
  await appendLedger(stateDir, entry(4));
  expect((await readLedger(stateDir, 'p')).map((e) => e.costUsd)).toEqual([1, 3, 4]);
});

test('a torn line that is all that is left, and an empty file', async () => {
  appendFileSync(path.join(stateDir, 'x'), '');
  await appendLedger(stateDir, entry(1));
  appendFileSync(file(), '{"finishedAt":"2026-01-01T1');
  expect((await readLedger(stateDir, 'p')).map((e) => e.costUsd)).toEqual([1]);
});
