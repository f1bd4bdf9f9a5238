// Limits and defaults shared by workflows, the config and the CLI: what orchestrate keeps in workflow history, and
// the first transient back-off. Pure (no imports): the agents' parsers, the config and the CLI load it without
// pulling in the Temporal SDK.

/** Result text kept in workflow history is capped: the full output stays in the run folder. */
export const RESULT_MAX_CHARS = 4000;

/**
 * First back-off after a transient API error (doubles each time), unless orchestrator.transient_backoff says
 * otherwise; also the workflow's fallback for plans of older runs, which carry none.
 */
export const DEFAULT_TRANSIENT_BACKOFF_MS = 60_000;
