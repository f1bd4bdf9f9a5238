// Small formatters shared by the CLI's views: times in the configured timezone, relative times, money and
// token counts.
import { localDate, localTime } from '../../lib/dates';
import { formatElapsed } from '../../lib/duration';

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

/** A table cell: "$0.0123", or empty when unknown. */
export function formatUsd(usd: number | null | undefined, digits = 4): string {
  return usd === null || usd === undefined ? '' : `$${usd.toFixed(digits)}`;
}

/** A job's cost in a sentence: "$0.0123" under a dollar, "$1.50" above, "cost n/a" when unknown. */
export function formatCost(usd: number | null): string {
  return usd === null ? 'cost n/a' : formatUsd(usd, usd < 1 ? 4 : 2);
}

/** 1234 → "1.2k", 2500000 → "2.5M". */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}
