// The text and JSON helpers every agent-output parser uses. Pure, and none of them throws: agent output may be
// anything (ANSI escapes, a byte-order mark, invalid UTF-8, astral characters cut in half).
import { RESULT_MAX_CHARS } from '../temporal/limits';

export type Json = Record<string, unknown>;

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-character escapes, and the 8-bit CSI.
const ANSI_RE =
  // eslint-disable-next-line no-control-regex
  /(?:\u001B\][^\u0007\u001B]*(?:\u0007|\u001B\\))|(?:[\u001B\u009B]\[[0-?]*[ -/]*[@-~])|(?:\u001B[()#][0-9A-Za-z])|(?:\u001B[@-Z\\-_=>78])/g;

/** Removes ANSI escape sequences (colours, cursor movement, OSC titles/links). */
export function stripAnsi(s: string): string {
  return s.replace(ANSI_RE, '');
}

/** `at`, moved back one character when cutting there would split a surrogate pair. */
function cutIndex(s: string, at: number): number {
  if (at > 0 && at < s.length) {
    const c = s.charCodeAt(at - 1);
    if (c >= 0xd800 && c <= 0xdbff) return at - 1;
  }
  return at;
}

/** Caps `s` at `max` characters, keeping its beginning and saying how much was cut. */
export function truncateText(s: string, max: number = RESULT_MAX_CHARS): { text: string; truncated: boolean } {
  if (s.length <= max) return { text: s, truncated: false };
  const marker = `\n… [truncated: ${s.length} characters in all]`;
  if (max <= marker.length) return { text: s.slice(0, cutIndex(s, Math.max(0, max))), truncated: true };
  return { text: s.slice(0, cutIndex(s, max - marker.length)) + marker, truncated: true };
}

/** Caps `s` at `max` characters, keeping its end (for plain-text output, where the last lines matter). */
export function truncateTail(s: string, max: number = RESULT_MAX_CHARS): { text: string; truncated: boolean } {
  if (s.length <= max) return { text: s, truncated: false };
  const marker = `[truncated: earlier output omitted] …\n`;
  let start = s.length - (max - marker.length);
  const c = s.charCodeAt(start);
  if (c >= 0xdc00 && c <= 0xdfff) start += 1;
  return { text: marker + s.slice(start), truncated: true };
}

/** An agent's stdout as text: invalid UTF-8 becomes U+FFFD (Buffer#toString never throws), no BOM, no ANSI. */
export function decodeOutput(stdout: Buffer | string): string {
  const text = typeof stdout === 'string' ? stdout : stdout.toString('utf8');
  return stripAnsi(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
}

/** `s` on one line, whitespace collapsed, capped at `max` characters (never inside a surrogate pair). */
export function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, cutIndex(flat, max - 1))}…` : flat;
}

export function lastNonEmptyLine(s: string): string | null {
  const lines = stripAnsi(s)
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length > 0 ? lines[lines.length - 1] : null;
}

/** The line of `text` holding the character at `index`, untrimmed, and where that line ends. */
export function lineAt(text: string, index: number): { line: string; end: number } {
  const start = text.lastIndexOf('\n', index) + 1;
  const newline = text.indexOf('\n', index);
  const end = newline < 0 ? text.length : newline;
  return { line: text.slice(start, end), end };
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON.parse, or undefined for anything that is not JSON. */
export function tryParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** An error value's text: a string as is, an object's `message` (else the object as JSON). */
export function errorText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v)) return str(v.message) ?? JSON.stringify(v);
  return null;
}
