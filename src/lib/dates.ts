// Calendar arithmetic in an IANA time zone. Pure and deterministic (Intl, or plain UTC fields for UTC; no clock
// reads), so both workflow code (with workflow time) and activities use it. Days are plain 'YYYY-MM-DD' strings:
// adding days to a calendar date is immune to DST, which only moves wall-clock hours.

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** The name ICU gives the UTC zone under any of its aliases. */
export const UTC_ZONE = 'UTC';
const UTC_ALIASES = new Set(
  ['UTC', 'UCT', 'Universal', 'Zulu', 'GMT', 'GMT0', 'GMT+0', 'GMT-0', 'Greenwich']
    .flatMap((n) => [n, `Etc/${n}`])
    .map((n) => n.toLowerCase()),
);

/**
 * Whether `name` is the UTC zone under one of its IANA aliases (as Intl matches them, ignoring case). Its
 * calendar needs no ICU: the first Intl date format of a process costs ~30 ms of CPU, which a CLI command that
 * only prints dates would pay on every run.
 */
export function isUtcZone(name: string): boolean {
  return UTC_ALIASES.has(name.toLowerCase());
}

const two = (n: number) => String(n).padStart(2, '0');

function partsIn(instant: Date, timeZone: string): Record<string, string> {
  if (isUtcZone(timeZone)) {
    // As Intl does for any zone: an invalid date is an error, not "NaN".
    if (Number.isNaN(instant.getTime())) throw new RangeError('Invalid time value');
    return {
      year: String(instant.getUTCFullYear()),
      month: two(instant.getUTCMonth() + 1),
      day: two(instant.getUTCDate()),
      hour: two(instant.getUTCHours()),
      minute: two(instant.getUTCMinutes()),
      second: two(instant.getUTCSeconds()),
    };
  }
  const fmt = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  return Object.fromEntries(fmt.formatToParts(instant).map((p) => [p.type, p.value]));
}

/** The calendar day of `instant` in `timeZone`, as YYYY-MM-DD. */
export function localDate(instant: Date, timeZone: string): string {
  const p = partsIn(instant, timeZone);
  return `${p.year}-${p.month}-${p.day}`;
}

/** The wall-clock time of `instant` in `timeZone`, as HH:MM. */
export function localTime(instant: Date, timeZone: string): string {
  const p = partsIn(instant, timeZone);
  return `${p.hour}:${p.minute}`;
}

function parseDay(day: string): { y: number; m: number; d: number } {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) throw new Error(`not a YYYY-MM-DD date: "${day}"`);
  return { y: Number(match[1]), m: Number(match[2]), d: Number(match[3]) };
}

function formatDay(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${two(m)}-${two(d)}`;
}

/** `day` plus `n` calendar days (n may be negative). */
export function addDays(day: string, n: number): string {
  const { y, m, d } = parseDay(day);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return formatDay(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

export function yesterday(day: string): string {
  return addDays(day, -1);
}

export function isFirstOfMonth(day: string): boolean {
  return parseDay(day).d === 1;
}

/** "November 2026" for any day of that month. */
export function monthLabel(day: string): string {
  const { y, m } = parseDay(day);
  return `${MONTHS[m - 1]} ${y}`;
}

/** "October 2026" for any day of November 2026 (handles January → December of the year before). */
export function previousMonthLabel(day: string): string {
  const { y, m } = parseDay(day);
  return m === 1 ? `${MONTHS[11]} ${y - 1}` : `${MONTHS[m - 2]} ${y}`;
}

/** Minutes since local midnight for "HH:MM". */
export function minutesOfDay(hhmm: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!match) throw new Error(`not an HH:MM time: "${hhmm}"`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * Whether `instant` falls in the daily window [start, end) in `timeZone`. A window whose end is before
 * its start spans midnight (e.g. 22:00-06:00).
 */
export function inWindow(instant: Date, timeZone: string, window: { start: string; end: string }): boolean {
  const now = minutesOfDay(localTime(instant, timeZone));
  const start = minutesOfDay(window.start);
  const end = minutesOfDay(window.end);
  return start <= end ? now >= start && now < end : now >= start || now < end;
}

/** The UTC instant at which `timeZone`'s local day `day` begins, and the next one's: bounds of "today". */
export function dayBounds(day: string, timeZone: string): { start: Date; end: Date } {
  return { start: zonedMidnight(day, timeZone), end: zonedMidnight(addDays(day, 1), timeZone) };
}

function zonedMidnight(day: string, timeZone: string): Date {
  const { y, m, d } = parseDay(day);
  // Start from UTC midnight and correct by the zone's offset; a second pass settles DST edges.
  let guess = Date.UTC(y, m - 1, d);
  for (let i = 0; i < 2; i++) {
    const p = partsIn(new Date(guess), timeZone);
    const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute));
    guess += Date.UTC(y, m - 1, d) - asUtc;
  }
  return new Date(guess);
}
