// List prices of Claude models, to estimate a running job's cost from the usage its stream reports so far
// (the result's total_cost_usd replaces the estimate once it is there). Pure.
import type { TokenUsage } from '../temporal/types';

/** US dollars per million tokens: input, output, cache write, cache read. */
interface Price {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

/** Model name patterns, most specific first; Claude Code applies the same table to the same usage. */
const PRICES: Array<[RegExp, Price]> = [
  [/opus-4-(?:0|1)\b|opus-4-2025|claude-3-opus/, { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 }],
  [/opus/, { input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 }],
  [/sonnet/, { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 }],
  [/haiku-3|3-5-haiku|3-haiku/, { input: 0.8, output: 4, cacheWrite: 1, cacheRead: 0.08 }],
  [/haiku/, { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 }],
];

/** The list-price cost of `tokens` on `model`; null for a model not in the table. */
export function estimateCostUsd(model: string | null, tokens: TokenUsage): number | null {
  const price = model ? PRICES.find(([re]) => re.test(model))?.[1] : undefined;
  if (!price) return null;
  return (
    (tokens.input * price.input +
      tokens.output * price.output +
      tokens.cacheCreation * price.cacheWrite +
      tokens.cacheRead * price.cacheRead) /
    1_000_000
  );
}
