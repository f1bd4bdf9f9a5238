// Parsers for option values shared by several commands; a bad value is a usage error that says what to type.
import { dayBounds, localDate } from '../lib/dates';
import { tryParseDuration } from '../lib/duration';
import { UserError } from './errors';

/**
 * `--since`: a duration back from now ("7d", "24h", "90m"), a day in the configured timezone
 * ("2026-05-01", "today", "yesterday"), or an ISO timestamp.
 */
export function parseSince(value: string, tz: string, now = new Date()): Date {
  const v = value.trim();
  if (v === 'today' || v === 'yesterday') {
    const today = localDate(now, tz);
    const start = dayBounds(today, tz).start;
    return v === 'today' ? start : dayBounds(localDate(new Date(start.getTime() - 1), tz), tz).start;
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return dayBounds(v, tz).start;
  const ms = tryParseDuration(v);
  if (ms !== null && !/^\d+$/.test(v)) return new Date(now.getTime() - ms);
  if (/^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v))) return new Date(v);
  throw new UserError(
    `--since must be a duration back from now ("7d", "24h"), a day ("2026-05-01", "today", "yesterday") or an ISO time, got "${value}"`,
  );
}
