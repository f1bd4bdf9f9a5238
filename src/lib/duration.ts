// Human durations ("90s", "45m", "1h30m", "500ms", or a bare number of seconds) to and from milliseconds.
// Pure and import-free, so workflow code can use it too.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const COMPONENT = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** The hint shown after a value that is not a duration. */
export const DURATION_EXAMPLES = 'use e.g. "90s", "45m", "1h30m"';

/**
 * Parses a duration into whole milliseconds, or returns null when `input` is not one.
 * Accepts one or more `<number><unit>` parts (units ms, s, m, h, d; e.g. "1h30m", "1.5h", "500ms"), optionally
 * separated by spaces, or a bare non-negative integer (number or digit string) meaning seconds.
 */
export function tryParseDuration(input: string | number): number | null {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0 ? input * 1000 : null;
  }
  const text = input.trim().replace(/\s+/g, '');
  if (text === '') return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    COMPONENT.lastIndex = pos;
    const m = COMPONENT.exec(text);
    if (!m) return null;
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = COMPONENT.lastIndex;
  }
  const ms = Math.round(total);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** Like tryParseDuration, but throws an Error saying what is wrong. */
export function parseDuration(input: string | number): number {
  const ms = tryParseDuration(input);
  if (ms === null) {
    const shown = typeof input === 'string' ? JSON.stringify(input) : String(input);
    throw new Error(`${shown} is not a duration (${DURATION_EXAMPLES})`);
  }
  return ms;
}

/** Formats milliseconds compactly: 5400000 → "1h30m", 90000 → "1m30s", 500 → "500ms", 0 → "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return sign + out;
}

/**
 * Formats milliseconds for a person reading a clock: the two largest units, rounded down ("59s", "1m01s",
 * "1h02m"). `days` adds a day unit ("1d2h"); `pad: false` drops the leading zero of the second unit.
 */
export function formatElapsed(ms: number, opts: { days?: boolean; pad?: boolean } = {}): string {
  const units: Array<[string, number]> = [
    ...(opts.days ? [['d', 86_400_000] as [string, number]] : []),
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  let rest = Math.max(0, Math.floor(ms));
  const top = units.find(([, size]) => rest >= size) ?? units[units.length - 1];
  const n = Math.floor(rest / top[1]);
  if (top[0] === 's') return `${n}s`;
  rest -= n * top[1];
  const next = units[units.indexOf(top) + 1];
  const m = Math.floor(rest / next[1]);
  return `${n}${top[0]}${opts.pad === false ? m : String(m).padStart(2, '0')}${next[0]}`;
}
