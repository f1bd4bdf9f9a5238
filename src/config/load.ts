// Finding, reading and parsing workspaces.toml. Parsing is TOML (smol-toml) → checked data (schema.ts) → Config
// (resolve.ts); loading adds the file-level checks (missing, too big, not UTF-8) and a cache of the last parse.
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError, fileError } from './errors';
import { expandHome, resolveConfig } from './resolve';
import { validate } from './schema';
import type { Config } from './types';

export const CONFIG_FILE_NAME = 'workspaces.toml';
export const CONFIG_ENV_VAR = 'ORCHESTRATE_CONFIG';

/** A registry of hundreds of projects is well under this. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Which file to read: the explicit argument, else $ORCHESTRATE_CONFIG, else ./workspaces.toml. Absolute. */
export function resolveConfigPath(explicit?: string): string {
  return locateConfig(explicit).path;
}

function locateConfig(explicit?: string): { path: string; source: string } {
  if (explicit !== undefined && explicit !== '') {
    return { path: path.resolve(expandHome(explicit)), source: 'the path given' };
  }
  const fromEnv = process.env[CONFIG_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== '') {
    return { path: path.resolve(expandHome(fromEnv)), source: `from ${CONFIG_ENV_VAR}` };
  }
  return {
    path: path.resolve(CONFIG_FILE_NAME),
    source: `the default, ./${CONFIG_FILE_NAME}; set ${CONFIG_ENV_VAR} to use another file`,
  };
}

function parseTomlText(tomlText: string, absPath: string): Record<string, unknown> {
  try {
    return parseToml(tomlText.replace(/^\uFEFF/, ''));
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.replace(/^Invalid TOML document: /, '').split('\n')[0];
      const message = `TOML syntax error at line ${err.line}, column ${err.column}: ${reason}\n${err.codeblock.trimEnd()}`;
      throw new ConfigError(absPath, [{ path: '', message }]);
    }
    throw new ConfigError(absPath, [{ path: '', message: `cannot parse TOML: ${(err as Error).message}` }]);
  }
}

/**
 * Parses and validates the text of a workspaces.toml. `configPath` names the file in messages and anchors relative
 * paths. Throws ConfigError listing every problem.
 */
export function parseConfig(tomlText: string, configPath: string): Config {
  const absPath = path.resolve(configPath);
  return resolveConfig(validate(parseTomlText(tomlText, absPath), absPath), absPath);
}

/** The file's text; a ConfigError when it is missing, unreadable, far too big or not UTF-8. */
async function readConfigText(configPath: string, source: string): Promise<string> {
  let bytes: Buffer;
  try {
    const st = await fsp.stat(configPath);
    if (st.isFile() && st.size > MAX_CONFIG_BYTES) {
      throw fileError(
        configPath,
        `${configPath} is ${(st.size / 1024 / 1024).toFixed(1)} MB; a workspaces.toml is a few KB — is this the right file?`,
      );
    }
    bytes = await fsp.readFile(configPath);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw fileError(
      configPath,
      e.code === 'ENOENT'
        ? `No config file at ${configPath} (${source}). Create one with "orchestrate init", or copy workspaces.example.toml from the orchestrate repository to ${configPath} and edit it.`
        : `Cannot read config file ${configPath}: ${e.message}`,
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const line = bytes.subarray(0, firstInvalidUtf8(bytes)).toString('latin1').split('\n').length;
    throw fileError(configPath, `${configPath} is not valid UTF-8 (line ${line}) — save it as UTF-8`);
  }
}

/**
 * The last parse of each config file, keyed by its exact text (and the home folder). Every activity re-reads the config (so an edit
 * applies to the next job), and validating a registry of hundreds of projects costs far more than reading it;
 * parsing is a pure function of the text and the path, so an unchanged file is not validated again, and
 * every activity shares one (frozen) object instead of allocating its own copy of hundreds of projects.
 */
const parsedConfigs = new Map<string, { text: string; config: Config }>();

/** Reads and parses the config file (see resolveConfigPath). Throws ConfigError, never anything else. */
export async function loadConfig(explicit?: string): Promise<Config> {
  const { path: configPath, source } = locateConfig(explicit);
  const text = await readConfigText(configPath, source);
  // `~` in paths expands to the home folder, so it is part of the key.
  const cacheKey = `${configPath}\0${os.homedir()}`;
  const cached = parsedConfigs.get(cacheKey);
  if (cached?.text === text) return cached.config;
  const config = deepFreeze(parseConfig(text, configPath));
  parsedConfigs.set(cacheKey, { text, config });
  return config;
}

/** A loaded config is shared by every caller (see parsedConfigs): frozen, so no caller can change it for the others. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function firstInvalidUtf8(bytes: Buffer): number {
  let lo = 0;
  let hi = bytes.length;
  // The longest valid prefix, by bisection (streaming mode: a cut inside a character is not an error).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}
