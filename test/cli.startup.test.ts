// The commands that need no server start without loading the Temporal SDK, its native bridge or the worker:
// the built dist/ CLI in a subprocess, asked which modules it loaded (no timing: the machine is noisy).
import execa from 'execa';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MAIN = path.resolve(__dirname, '../dist/cli/main.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `orchestrate <args>` in a fresh node and returns the modules it loaded. */
async function loaded(args: string[]): Promise<{ code: number; modules: string[]; builtins: string[] }> {
  const script = `require(${JSON.stringify(MAIN)}).main(['node', 'orchestrate', ...JSON.parse(process.argv[2])])
    .then((code) => process.stderr.write('\\nMODULES ' + JSON.stringify({ code, modules: Object.keys(require.cache), builtins: process.moduleLoadList })))`;
  // A script file, not \`node -e\`: -e itself loads node:crypto.
  const file = path.join(dir, 'loaded.js');
  writeFileSync(file, script);
  const r = await execa('node', [file, JSON.stringify(args)], {
    cwd: dir,
    env: { ...process.env, ORCHESTRATE_CONFIG: path.join(dir, 'workspaces.toml'), HOME: dir },
    reject: false,
    stdin: 'ignore',
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('MODULES '));
  if (!line) throw new Error(`no module list from ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(line.slice('MODULES '.length));
}

const heavy = (modules: string[]) =>
  modules.filter((m) => /@temporalio|[\\/]dist[\\/](worker|activities|workflows)[\\/.]/.test(m));

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
});

test.each([[['--help']], [['run', '--help']], [['init']], [['history']], [['costs']], [['costs', '--json']]])(
  'orchestrate %p loads no Temporal SDK module',
  async (args) => {
    const { code, modules } = await loaded(args);
    expect(code).toBe(0);
    expect(heavy(modules)).toEqual([]);
  },
);

test('logs (without -f) reads the run folders alone: no Temporal SDK, no agent parsers, no node:crypto', async () => {
  writeFileSync(
    path.join(dir, 'workspaces.toml'),
    `[orchestrator]\nstate_dir = ${JSON.stringify(path.join(dir, 'state'))}\n\n[projects.quiet]\npath = ${JSON.stringify(dir)}\n`,
  );
  try {
    const light = ({ modules, builtins }: { modules: string[]; builtins: string[] }) => {
      expect(heavy(modules)).toEqual([]);
      expect(modules.filter((m) => /[\\/]dist[\\/]agents[\\/](claude|codex|gemini|custom)\.js$/.test(m))).toEqual([]);
      expect(builtins).not.toContain('NativeModule crypto');
    };
    const none = await loaded(['logs', 'quiet']);
    expect(none.code).toBe(1); // no agent output yet
    light(none);
    // A finished run: its output rendered, its launch and exit status read.
    const attempt = path.join(dir, 'state', 'runs', 'quiet', '20261201T000000Z-run', 'attempt-1');
    mkdirSync(attempt, { recursive: true });
    writeFileSync(path.join(attempt, '..', 'job.json'), JSON.stringify({ host: os.hostname() }));
    writeFileSync(path.join(attempt, 'launch.json'), JSON.stringify({ pid: 1, startTicks: 1, startedAt: 0 }));
    writeFileSync(path.join(attempt, 'exit.code'), '0\n');
    writeFileSync(
      path.join(attempt, 'stdout.log'),
      `${JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'done here' }] } })}\n`,
    );
    const finished = await loaded(['logs', 'quiet']);
    expect(finished.code).toBe(0);
    light(finished);
  } finally {
    rmSync(path.join(dir, 'workspaces.toml'), { force: true });
  }
});

test('a command that talks to Temporal loads the client when it runs', async () => {
  const { modules } = await loaded(['schedule', 'list']);
  expect(modules.some((m) => m.includes('@temporalio/client'))).toBe(true);
  expect(heavy(modules).some((m) => /dist[\\/]worker/.test(m))).toBe(false);
});
