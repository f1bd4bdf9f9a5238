// Reading the agent's answer from a Claude Code transcript (JSONL, one entry per line; its path is in the Stop
// hook's input): the assistant text after the user turn holding the prompt.
import { readTail } from '../runner/process';
import { withoutSpace } from './screen';
import { sleep } from '../lib/sleep';

/** Only the end of a long transcript is read: the prompt's turn is among its last entries. */
const TRANSCRIPT_TAIL_BYTES = 8 * 1024 * 1024;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textOf(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  const texts = content.filter((b) => isObject(b) && b.type === 'text' && typeof b.text === 'string');
  return texts.length ? texts.map((b) => (b as { text: string }).text).join('\n') : null;
}

/** The entry is the (non-meta, main-chain) user turn that holds `target` (a prompt without its whitespace). */
function isPromptTurn(e: Json, target: string): boolean {
  if (e.type !== 'user' || e.isMeta || e.isSidechain || !isObject(e.message)) return false;
  const t = textOf(e.message.content);
  return t !== null && withoutSpace(t).includes(target);
}

const promptTarget = (prompt: string) => withoutSpace(prompt).slice(0, 200);

/** When an entry was written (ms since the epoch), from its `timestamp`; null without one. */
function writtenAt(e: Json): number | null {
  const t = typeof e.timestamp === 'string' ? Date.parse(e.timestamp) : NaN;
  return Number.isNaN(t) ? null : t;
}

/**
 * The byte offset in the transcript where the user turn holding `prompt` that was written at `notBefore` or
 * later starts (what comes after it is the answer to that prompt: an earlier job may have sent the same
 * prompt), looked for in the file's last 8 MiB; the file's size while that turn is not there yet.
 */
export async function promptTurnOffset(file: string, prompt: string, notBefore: number): Promise<number> {
  const tail = await readTail(file, TRANSCRIPT_TAIL_BYTES);
  const target = promptTarget(prompt);
  const base = tail.size - tail.data.length;
  let end = tail.data.length;
  while (end > 0) {
    const start = tail.data.lastIndexOf(0x0a, end - 1) + 1;
    if (start === 0 && tail.headTruncated) break; // a partial first line
    try {
      const v: unknown = JSON.parse(tail.data.subarray(start, end).toString('utf8'));
      if (isObject(v) && isPromptTurn(v, target)) {
        const at = writtenAt(v);
        return at === null || at >= notBefore ? base + start : tail.size;
      }
    } catch {
      // a torn or empty line
    }
    end = start - 1;
  }
  return tail.size;
}

/**
 * The agent's text after the last user turn holding `prompt`, in transcript text (JSONL; torn lines and
 * sidechain entries skipped), or null when the turn is not found or has no text. Pure.
 */
export function answerInTranscript(jsonl: string, prompt: string): string | null {
  const entries: Json[] = [];
  for (const line of jsonl.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (isObject(v) && !v.isSidechain) entries.push(v);
    } catch {
      // a torn line: skip
    }
  }
  const target = promptTarget(prompt);
  let anchor = -1;
  for (let i = entries.length - 1; i >= 0 && anchor < 0; i--) if (isPromptTurn(entries[i], target)) anchor = i;
  if (anchor < 0) return null;
  const parts = entries
    .slice(anchor + 1)
    .filter((e) => e.type === 'assistant' && isObject(e.message))
    .map((e) => textOf((e.message as Json).content))
    .filter((t): t is string => t !== null && t.trim() !== '');
  return parts.length ? parts.join('\n\n').trim() : null;
}

/** answerInTranscript on the file's last 8 MiB (its first, partial line dropped); null when unreadable. */
export async function answerFromTranscript(file: string, prompt: string): Promise<string | null> {
  let tail;
  try {
    tail = await readTail(file, TRANSCRIPT_TAIL_BYTES);
  } catch {
    return null;
  }
  let text = tail.data.toString('utf8');
  if (tail.headTruncated) text = text.slice(text.indexOf('\n') + 1);
  return answerInTranscript(text, prompt);
}

// Claude Code runs its Stop hook as the turn ends, and may append the turn's last entries to the transcript a
// moment later (seconds later on a loaded machine, where the pane may still show the turn's spinner): an answer
// not there yet is looked for again for a while before the pane is used instead. An answer that is there ends
// the wait at once.
/** How long after the Stop hook the transcript may still be catching up. */
export const TRANSCRIPT_SETTLE_MS = 10_000;
const POLL_MS = 100;

/** `read()` until it yields an answer or `settleMs` has passed; null when it never did. */
export async function answerOnceWritten(
  read: () => Promise<string | null>,
  settleMs: number = TRANSCRIPT_SETTLE_MS,
): Promise<string | null> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const answer = await read();
    if (answer !== null || Date.now() >= deadline) return answer;
    await sleep(POLL_MS);
  }
}
