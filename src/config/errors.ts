// How a config problem is told: ConfigError and its message, the did-you-mean hint, key paths as written in
// TOML, and the one wording of "no such project" that the CLI, the activities and the gates all use.
import type { Config, ConfigProblem, ProjectConfig } from './types';

/** A config that cannot be used. `message` is ready to print as is (no stack trace needed). */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  readonly configPath: string;

  constructor(configPath: string, problems: ConfigProblem[], message?: string) {
    super(message ?? formatProblems(configPath, problems));
    this.name = 'ConfigError';
    this.configPath = configPath;
    this.problems = problems;
  }

  /**
   * The message without the excerpt of the file that a TOML syntax error shows: what goes into workflow failures
   * and logs. The excerpt may show an [agent] env line (an API key), and those must never leave the config file;
   * a person at the terminal gets the full message (it is their own file).
   */
  get messageWithoutExcerpt(): string {
    if (!this.problems.some((p) => p.message.includes('\n'))) return this.message;
    return formatProblems(
      this.configPath,
      this.problems.map((p) => ({ path: p.path, message: p.message.split('\n')[0] })),
    );
  }
}

function formatProblems(configPath: string, problems: ConfigProblem[]): string {
  const n = problems.length;
  const lines = problems.map((p) => {
    const text = p.path ? `${p.path}: ${p.message}` : p.message;
    return `  - ${text.split('\n').join('\n    ')}`;
  });
  return `${configPath} is invalid (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** A problem with the whole file (no key path), thrown with `message` exactly as given. */
export function fileError(configPath: string, message: string): ConfigError {
  return new ConfigError(configPath, [{ path: '', message }], message);
}

/** `["projects", "my app", "args", 0]` → `projects."my app".args[0]`. */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') {
      out += `[${seg}]`;
    } else {
      const key = /^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg);
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The candidate closest to `word` (case-insensitive Levenshtein distance ≤ 3, or a prefix either way), or null. */
export function didYouMean(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    const distance = levenshtein(w, c);
    const prefix = w.length > 0 && (c.startsWith(w) || w.startsWith(c));
    if ((distance <= 3 || prefix) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` for the closest candidate, or "" when none is close. */
export function didYouMeanHint(word: string, candidates: readonly string[]): string {
  return suggestionText(didYouMean(word, candidates));
}

/** ` (did you mean "x"?)`, or "" for no suggestion. */
export function suggestionText(suggestion: string | null): string {
  return suggestion === null ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`;
}

/**
 * Why `names` cannot be used: they are not projects of this config. Each name gets its did-you-mean hint, then
 * the projects that do exist (or how to add one when there are none).
 */
export function unknownProjectMessage(
  config: Pick<Config, 'configPath' | 'projects'>,
  names: string | readonly string[],
): string {
  const wanted = typeof names === 'string' ? [names] : names;
  const known = Object.keys(config.projects);
  const listed = wanted.map((n) => `${JSON.stringify(n)}${didYouMeanHint(n, known)}`).join(', ');
  const subject = `Unknown project${wanted.length > 1 ? 's' : ''} ${listed}`;
  return known.length === 0
    ? `${subject}: ${config.configPath} defines no projects (add a [projects.<name>] table with a path).`
    : `${subject}. Projects in ${config.configPath}: ${known.join(', ')}.`;
}

/** The named project, or a ConfigError naming the known projects (with a did-you-mean hint). */
export function projectOrThrow(config: Config, name: string): ProjectConfig {
  if (Object.prototype.hasOwnProperty.call(config.projects, name)) return config.projects[name];
  const message = unknownProjectMessage(config, name);
  throw new ConfigError(config.configPath, [{ path: formatPath(['projects', name]), message }], message);
}
