// Secret scrubbing: every text that leaves the worker about a job (results and failures in workflow history,
// heartbeats, reported.json, ledger lines, notifications) has the secrets the agent could print replaced by
// REDACTED: the values of [agent] env, the values of the variables the agent gets whose names look secret, and
// anything shaped like an Anthropic or OpenAI key. The run folder's raw logs stay as the agent wrote them (they
// are the user's own files, mode 0600). Pure: no I/O.
import { ApplicationFailure } from '@temporalio/common';

export const REDACTED = '[redacted]';

/** Replaces the secrets in one text. */
export type Scrubber = (text: string) => string;

/** Names of variables that hold secrets by convention (ANTHROPIC_API_KEY, GITHUB_TOKEN, DB_PASSWORD…). */
const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL/i;
/**
 * [agent] env variables whose values are not secrets but paths and settings that also appear in orchestrate's
 * own messages (a HOME prefix in every log path): scrubbing them would garble the messages, not protect anything.
 */
const PLAIN_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'TERM',
  'TMPDIR',
  'PWD',
  'TZ',
]);
/** Shorter values are not credentials, and replacing them everywhere ("1", "true") would garble any text. */
const MIN_SECRET_CHARS = 6;
/** Anthropic keys (sk-ant-api03-…, sk-ant-oat01-…) and OpenAI keys (sk-…, sk-proj-…), wherever they appear. */
const KEY_SHAPES = [/sk-ant-[A-Za-z0-9_-]{8,}/g, /\bsk-(?:proj-)?[A-Za-z0-9_-]{16,}/g];

/**
 * The secret values among the agent's environment: every value of `configured` ([agent] env) but the plain
 * settings, and the values of `given` (the variables the agent inherits) whose names look secret.
 */
export function secretValues(configured: Record<string, string>, given: Record<string, string | undefined>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(configured)) if (!PLAIN_NAMES.has(name)) values.add(value);
  for (const [name, value] of Object.entries(given))
    if (value !== undefined && SECRET_NAME.test(name)) values.add(value);
  return [...values].filter((v) => v.length >= MIN_SECRET_CHARS);
}

/** A scrubber for these secret values (longest first, so a secret holding another is replaced whole) and key shapes. */
export function makeScrubber(secrets: string[]): Scrubber {
  const sorted = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of sorted) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    for (const shape of KEY_SHAPES) out = out.replace(shape, REDACTED);
    return out;
  };
}

/** Scrubs only what is shaped like a key: for texts that leave the worker without a job's environment at hand. */
export const scrubKeyShapes: Scrubber = makeScrubber([]);

/** A copy of `value` with every string in it (object values, array items, nested) scrubbed. */
export function scrubDeep<T>(value: T, scrub: Scrubber): T {
  if (typeof value === 'string') return scrub(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => scrubDeep(v, scrub)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrubDeep(v, scrub);
    return out as T;
  }
  return value;
}

/**
 * The error an activity throws, scrubbed: an ApplicationFailure is raised anew (same type, retry decision and
 * details, scrubbed; its stack, which repeats the message, is built afresh); other errors get their message and
 * stack scrubbed in place.
 */
export function scrubFailure(e: unknown, scrub: Scrubber): unknown {
  if (e instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      type: e.type ?? undefined,
      message: scrub(e.message),
      nonRetryable: e.nonRetryable ?? undefined,
      details: e.details ? scrubDeep([...e.details], scrub) : undefined,
      nextRetryDelay: e.nextRetryDelay ?? undefined,
      cause: e.cause,
    });
  }
  if (e instanceof Error) {
    e.message = scrub(e.message);
    if (e.stack) e.stack = scrub(e.stack);
  }
  return e;
}
