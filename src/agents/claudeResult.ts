// Finding Claude Code's result object (`{"type":"result", ...}`) in its stdout, whatever shape that took: a
// single JSON object, a JSON array (--verbose with json), NDJSON (stream-json), the object glued to progress
// text or pretty-printed, or only the tail of a huge stream. Also tells a cut-off stream-json run apart from
// other output. Pure, bounded: pathological output cannot stall a worker.
import { isObject, tryParse, type Json } from './text';

function isResult(v: unknown): v is Json {
  return isObject(v) && v.type === 'result';
}

function resultOf(value: unknown): Json | null {
  if (isResult(value)) return value;
  if (Array.isArray(value)) {
    for (let i = value.length - 1; i >= 0; i--) if (isResult(value[i])) return value[i] as Json;
  }
  return null;
}

/**
 * End index (exclusive) of the balanced JSON object/array starting at `start`, string-aware; -1 if it is
 * not closed within `limit` characters. Charges the characters it reads to `budget`.
 */
function balancedEnd(text: string, start: number, limit: number, budget: { left: number }): number {
  let depth = 0;
  let inString = false;
  const end = Math.min(text.length, start + limit, start + Math.max(0, budget.left));
  budget.left -= end - start;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) depth++;
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

const TYPE_RESULT_RE = /"type"\s*:\s*"result"/g;
/** How far back from a `"type":"result"` key its object may start, and how large it may be. */
const OBJECT_WINDOW = 4 * 1024 * 1024;
const MAX_CANDIDATES = 5000;
/** Total characters the fallback may scan, so pathological output cannot stall a worker. */
const SCAN_BUDGET = 64 * 1024 * 1024;

/**
 * Fallback for output where the result object is not on a line of its own (a JSON array whose head was
 * cut off, an object glued to progress text, pretty-printed JSON): from each `"type":"result"` key, last
 * first, find the enclosing object that parses as a result.
 */
function findEmbeddedResult(text: string): Json | null {
  const keys: number[] = [];
  for (const m of text.matchAll(TYPE_RESULT_RE)) keys.push(m.index ?? 0);
  const budget = { left: SCAN_BUDGET };
  for (let k = keys.length - 1; k >= 0 && k >= keys.length - 3; k--) {
    const key = keys[k];
    let tried = 0;
    const floor = Math.max(0, key - OBJECT_WINDOW);
    for (let start = text.lastIndexOf('{', key); start >= floor && tried < MAX_CANDIDATES;) {
      if (budget.left <= 0) return null;
      tried++;
      const end = balancedEnd(text, start, OBJECT_WINDOW, budget);
      if (end > key) {
        const value = tryParse(text.slice(start, end));
        if (isResult(value)) return value;
      }
      if (start === 0) break;
      start = text.lastIndexOf('{', start - 1);
    }
  }
  return null;
}

export interface Found {
  result: Json | null;
  /** stream-json messages (system/assistant/user...) were seen: a missing result means a cut-off stream. */
  streamSeen: boolean;
  /** session_id from a system/init line, for when the result line is missing. */
  initSessionId: string | null;
}

const STREAM_TYPES = new Set(['system', 'assistant', 'user', 'stream_event', 'rate_limit_event']);

/** The last result object in `text` (null when there is none), and what else the output shows. */
export function findResult(text: string): Found {
  const found: Found = { result: null, streamSeen: false, initSessionId: null };
  const whole = text.trim();
  if (whole.startsWith('{') || whole.startsWith('[')) {
    const value = tryParse(whole);
    const r = resultOf(value);
    if (r) {
      found.result = r;
      return found;
    }
    if (Array.isArray(value)) {
      found.streamSeen = value.some((m) => isObject(m) && STREAM_TYPES.has(String(m.type)));
      const init = value.find((m) => isObject(m) && m.type === 'system' && m.subtype === 'init') as Json | undefined;
      if (init && typeof init.session_id === 'string') found.initSessionId = init.session_id;
    }
  }
  // NDJSON / mixed text: scan lines from the end.
  const lines = text.split(/\r?\n/);
  let checked = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (line.length === 0) continue;
    const first = line[0];
    if (first !== '{' && first !== '[') continue;
    if (line.includes('"result"')) {
      const r = resultOf(tryParse(line));
      if (r) {
        found.result = r;
        break;
      }
    }
    // Only the last few thousand JSON lines are looked at to tell a stream apart from other output.
    if (checked++ < 5000 && line.startsWith('{"type"')) {
      const value = tryParse(line);
      if (isObject(value) && STREAM_TYPES.has(String(value.type))) {
        found.streamSeen = true;
        if (value.type === 'system' && value.subtype === 'init' && typeof value.session_id === 'string') {
          found.initSessionId = value.session_id;
        }
      }
    }
  }
  if (!found.result && text.includes('"result"')) found.result = findEmbeddedResult(text);
  return found;
}
