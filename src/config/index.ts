// workspaces.toml: the registry of projects and the orchestrator's settings. Parsed with smol-toml, validated
// with zod (every problem reported at once, each with its key path), then turned into a camelCase Config with
// every default applied and every project's agent/gates settings fully merged. The public entry of config/:
// importers use this module, not the files behind it.
export * from './types';
export { DEFAULT_EOD_PROMPT, DEFAULT_MONTH_PROMPT, DEFAULT_PROJECT_PROMPT, DEFAULT_ROLLOVER_PROMPT } from './defaults';
export { ConfigError, didYouMean, projectOrThrow, unknownProjectMessage } from './errors';
export { configKeys } from './schema';
export { expandHome } from './resolve';
export { agentAccountKey, CREDENTIAL_ENV_VARS } from './account';
export { configSnapshot, jobSettings, projectSnapshot } from './snapshot';
export { CONFIG_ENV_VAR, CONFIG_FILE_NAME, loadConfig, parseConfig, resolveConfigPath } from './load';
