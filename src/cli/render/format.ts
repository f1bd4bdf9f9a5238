// Small formatters shared by the CLI's views: times in the configured timezone, relative times, money and
// token counts.
import { localDate, localTime } from '../../lib/dates';
import { formatElapsed } from '../../lib/duration';
import { formatUsd } from '../../lib/amounts';

export { formatCount, formatUsd } from '../../lib/amounts';

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

/** A job's cost in a sentence: "$0.0123" under a dollar, "$1.50" above, "cost n/a" when unknown. */
export function formatCost(usd: number | null): string {
  return usd === null ? 'cost n/a' : formatUsd(usd, usd < 1 ? 4 : 2);
}
