// Money and counts as people read them: "$0.0123", "52.1k". Pure and import-free, so workflow code can use it too.

/** A table cell: "$0.0123", or empty when unknown. */
export function formatUsd(usd: number | null | undefined, digits = 4): string {
  return usd === null || usd === undefined ? '' : `$${usd.toFixed(digits)}`;
}

/** 1234 → "1.2k", 2500000 → "2.5M". */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}
