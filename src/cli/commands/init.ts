// `orchestrate init [--scan <dir>]`: writes a starter workspaces.toml. Every setting is there, commented out
// with its default and what it means (taken from workspaces.example.toml, so the two never drift apart),
// followed by one [projects.<name>] table per git repository found under <dir>, those with a CLAUDE.md first.
import type { Command } from 'commander';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_FILE_NAME, PROJECT_NAME_RE, parseConfig, resolveConfigPath } from '../../config';
import { print, type GlobalOpts } from '../common';
import { UserError } from '../errors';

/** Folders never worth descending into while looking for repositories. */
const SKIP_DIRS = new Set(['node_modules', 'vendor', 'target', 'dist', 'build', '__pycache__', 'venv']);

export interface FoundRepo {
  path: string;
  hasClaudeMd: boolean;
}

/** Git repositories under `root` (itself included), at most `maxDepth` folders down; CLAUDE.md ones first. */
export async function findRepos(root: string, maxDepth = 3): Promise<FoundRepo[]> {
  const found: FoundRepo[] = [];
  async function walk(dir: string, depth: number): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable: skip
    }
    if (entries.some((e) => e.name === '.git')) {
      const hasClaudeMd = entries.some((e) => e.name === 'CLAUDE.md' && e.isFile());
      found.push({ path: dir, hasClaudeMd });
      return; // a repository's subfolders are its own business
    }
    if (depth >= maxDepth) return;
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
      await walk(path.join(dir, e.name), depth + 1);
    }
  }
  await walk(path.resolve(root), 0);
  return found.sort((a, b) => Number(b.hasClaudeMd) - Number(a.hasClaudeMd) || a.path.localeCompare(b.path));
}

/** A valid, unused project name for a repository folder. */
export function projectName(repoPath: string, taken: Set<string>): string {
  const clean = (s: string) =>
    s
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .replace(/-+$/, '');
  const base = clean(path.basename(repoPath)) || 'project';
  const parent = clean(path.basename(path.dirname(repoPath)));
  const tryName = (name: string) => {
    if (!PROJECT_NAME_RE.test(name) || taken.has(name)) return false;
    taken.add(name);
    return true;
  };
  if (tryName(base)) return base;
  if (parent && tryName(`${parent}-${base}`)) return `${parent}-${base}`;
  for (let i = 2; ; i++) if (tryName(`${base}-${i}`)) return `${base}-${i}`;
}

function tildify(p: string): string {
  const home = os.homedir();
  return p === home || p.startsWith(home + path.sep) ? `~${p.slice(home.length)}` : p;
}

const KEY_LINE = /^\s*[A-Za-z0-9_-]+\s*=/;
const TABLE_LINE = /^\s*\[/;

// The one setting a starter config sets rather than leaves at its default: [agent] args that let headless
// jobs edit files and commit (the example's commented-out args line, whose comment says why). Without it Claude
// Code refuses every edit in -p mode and each job fails naming the refused tools.
const STARTER_ARGS = /^# (args = \[.*"acceptEdits".*\])$/;

function starterSetting(line: string): string[] {
  const m = STARTER_ARGS.exec(line);
  return m ? ['# Set by `orchestrate init`: jobs may edit files in the project folder and commit.', m[1]] : [line];
}

/** workspaces.example.toml, split into its settings (every key commented out) and its project-table docs. */
function exampleParts(): { settings: string[]; projectDocs: string[] } {
  const file = path.resolve(__dirname, '..', '..', '..', 'workspaces.example.toml');
  const lines = readFileSync(file, 'utf8').split('\n');
  const firstTable = lines.findIndex((l) => TABLE_LINE.test(l));
  const firstProject = lines.findIndex((l) => /^\s*\[projects\./.test(l));
  // The comment block right above the first project table introduces projects: it goes with their docs.
  let projectsStart = firstProject;
  while (projectsStart > 0 && lines[projectsStart - 1].startsWith('#')) projectsStart--;
  const projectName = /^\s*\[projects\.([^.\]]+)/.exec(lines[firstProject])?.[1] ?? '';
  // The first project's tables (with its .agent / .gates sub-tables), up to the next project.
  let projectEnd = firstProject + 1;
  while (projectEnd < lines.length) {
    const m = /^\s*\[projects\.([^.\]]+)/.exec(lines[projectEnd]);
    if (m && m[1] !== projectName) break;
    projectEnd++;
  }
  const commentOut = (l: string) => (KEY_LINE.test(l) ? `# ${l}` : l);
  const settings = lines.slice(firstTable, projectsStart).map(commentOut).flatMap(starterSetting);
  const projectDocs = lines
    .slice(projectsStart, projectEnd)
    .map((l) => (KEY_LINE.test(l) || TABLE_LINE.test(l) ? `# ${l}` : l))
    .map((l) =>
      projectName ? l.split(projectName).join('example').split(projectName.toUpperCase()).join('EXAMPLE') : l,
    );
  while (projectDocs.length && projectDocs[projectDocs.length - 1].trim() === '') projectDocs.pop();
  while (settings.length && settings[settings.length - 1].trim() === '') settings.pop();
  return { settings, projectDocs };
}

export function renderStarterConfig(opts: { scanned?: string; repos: FoundRepo[]; now?: Date }): {
  text: string;
  projects: Array<{ name: string; path: string; enabled: boolean }>;
} {
  const { settings, projectDocs } = exampleParts();
  const day = (opts.now ?? new Date()).toISOString().slice(0, 10);
  const out: string[] = [
    `# workspaces.toml: the projects orchestrate runs headless \`claude -p\` jobs in.`,
    `# Written by \`orchestrate init${opts.scanned ? ` --scan ${tildify(opts.scanned)}` : ''}\` on ${day}.`,
    '#',
    '# Every setting below is commented out at its default, with what it means: uncomment a line to change it.',
    '# Only the [projects.<name>] tables at the end are set. orchestrate reads this file from --config, else',
    '# $ORCHESTRATE_CONFIG, else ./workspaces.toml; unknown keys are errors (with a "did you mean" hint).',
    '# Check it with `orchestrate status`.',
    '',
    ...settings,
    '',
    '# ' + '-'.repeat(108),
    ...projectDocs,
    '# ' + '-'.repeat(108),
    '',
  ];
  const taken = new Set<string>();
  const projects: Array<{ name: string; path: string; enabled: boolean }> = [];
  if (!opts.repos.length) {
    out.push(
      opts.scanned
        ? `# No git repositories found under ${tildify(opts.scanned)}. Add one table per project, e.g.:`
        : '# Add one table per project (or run `orchestrate init --scan ~/code --force` to list your repositories), e.g.:',
      '# [projects.myapp]',
      '# path = "~/code/myapp"',
      '',
    );
  } else {
    const withMd = opts.repos.filter((r) => r.hasClaudeMd).length;
    out.push(
      `# Found under ${tildify(opts.scanned ?? '.')}: ${opts.repos.length} git repositor${opts.repos.length === 1 ? 'y' : 'ies'}, ${withMd} with a CLAUDE.md (listed first).`,
      '',
    );
    for (const repo of opts.repos) {
      const name = projectName(repo.path, taken);
      projects.push({ name, path: repo.path, enabled: repo.hasClaudeMd });
      out.push(`[projects.${name}]`, `path = ${JSON.stringify(tildify(repo.path))}`);
      if (!repo.hasClaudeMd) {
        out.push(
          '# No CLAUDE.md in this repository: disabled (cycles, EOD and rollover skip it; `orchestrate run -p` still',
          '# works) until you add one — Claude Code reads it for the project — or set enabled = true.',
          'enabled = false',
        );
      }
      out.push('');
    }
  }
  return { text: out.join('\n'), projects };
}

export async function init(opts: { scan?: string; depth: string; force?: boolean }, cmd: Command): Promise<void> {
  const { config: explicit } = cmd.optsWithGlobals<GlobalOpts>();
  const target = resolveConfigPath(explicit);
  if (existsSync(target) && !opts.force) {
    throw new UserError(
      `${target} already exists — not overwriting it. Use --force to replace it (the old file is kept as ${path.basename(target)}.bak), or --config <path> to write elsewhere.`,
    );
  }
  const depth = Number(opts.depth);
  if (!Number.isInteger(depth) || depth < 0) throw new UserError(`--depth must be a whole number, got "${opts.depth}"`);
  let scanned: string | undefined;
  if (opts.scan) {
    scanned = path.resolve(opts.scan.replace(/^~(?=$|\/)/, os.homedir()));
    const st = await fs.stat(scanned).catch(() => null);
    if (!st?.isDirectory()) throw new UserError(`--scan ${opts.scan}: not a folder`);
  }
  const repos = scanned ? await findRepos(scanned, depth) : [];
  const { text, projects } = renderStarterConfig({ scanned, repos });
  // Never write a file orchestrate itself would reject.
  parseConfig(text, target);
  await fs.mkdir(path.dirname(target), { recursive: true });
  if (existsSync(target)) await fs.copyFile(target, `${target}.bak`);
  await fs.writeFile(target, text);

  const enabled = projects.filter((p) => p.enabled);
  print(
    `wrote ${target}: ${projects.length} project${projects.length === 1 ? '' : 's'}` +
      (projects.length
        ? ` (${enabled.length} enabled; ${projects.length - enabled.length} without a CLAUDE.md are disabled)`
        : ''),
  );
  for (const p of projects) print(`  ${p.enabled ? '+' : '-'} ${p.name.padEnd(24)} ${tildify(p.path)}`);
  print('');
  const steps: Array<[string, string]> = [
    ...(target !== path.resolve(CONFIG_FILE_NAME)
      ? [[`export ORCHESTRATE_CONFIG=${tildify(target)}`, 'so every command finds it'] as [string, string]]
      : []),
    [`edit ${tildify(target)}`, 'check the projects; [schedules] eod = "23:00" runs every enabled one nightly'],
    ['orchestrate up', 'Temporal dev server + schedules + worker, in the foreground'],
    ...(enabled[0] ? [[`orchestrate run -p ${enabled[0].name}`, 'one job now'] as [string, string]] : []),
    ['orchestrate status', 'what runs, what ran, what it cost; and where the Web UI is'],
  ];
  const w = Math.max(...steps.map(([c]) => c.length));
  print('next:');
  for (const [c, why] of steps) print(`  ${c.padEnd(w)}   # ${why}`);
}
