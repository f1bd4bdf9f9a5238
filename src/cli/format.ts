// Small formatters shared by the status, history and costs commands: times in the configured timezone,
// relative times, money, token counts, and `--since` parsing.
import { dayBounds, localDate, localTime } from '../lib/dates';
import { tryParseDuration } from '../lib/duration';
import { UserError } from './common';
import { formatElapsed } from './progress';

/** "2026-05-01 23:00" in `tz`. */
export function formatWhen(iso: string | Date, tz: string): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(d.getTime())) return '';
  return `${localDate(d, tz)} ${localTime(d, tz)}`;
}

/** "3m12s ago" / "in 5h02m". */
export function formatRelative(iso: string | Date, now = Date.now()): string {
  const t = (typeof iso === 'string' ? new Date(iso) : iso).getTime();
  if (Number.isNaN(t)) return '';
  const diff = t - now;
  return diff >= 0 ? `in ${formatElapsed(diff)}` : `${formatElapsed(-diff)} ago`;
}

export function formatUsd(usd: number | null | undefined, digits = 4): string {
  return usd === null || usd === undefined ? '' : `$${usd.toFixed(digits)}`;
}

/** 1234 → "1.2k", 2500000 → "2.5M". */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

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
