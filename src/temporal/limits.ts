// Size limits of what orchestrate keeps in workflow history. Pure (no imports): the agents' parsers, which the
// config and the CLI load, use it without pulling in the Temporal SDK.

/** Result text kept in workflow history is capped: the full output stays in the run folder. */
export const RESULT_MAX_CHARS = 4000;
