// Where a bench run's CPU went: reads the V8 CPU profiles `node --cpu-prof` wrote (one per thread: the main thread
// hosting the worker, and each workflow thread) and prints, per thread, its sampled time by area (as sampled, and
// with native and Node time counted to the nearest caller outside Node, so that a file system call of the bench's
// own set-up is not ours), orchestrate's costliest functions with the calls into Node they made, and the costliest
// functions by self time. The "why" of each missed target in bench/README.md cites these profiles.
//
//   node --cpu-prof --cpu-prof-dir bench/results/prof-NAME dist-bench/bench/bench.js --only p3 --label NAME
//   node dist-bench/bench/profile.js bench/results/prof-NAME
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The area a frame's code belongs to, by its file. */
function areaOf(url: string, fn: string): string {
  if (!url) return fn === '(garbage collector)' ? 'gc' : fn === '(idle)' ? 'idle' : 'native / (program)';
  if (/[\\/]bench[\\/]floor[\\/]/.test(url)) return 'the floor (bench/floor)';
  if (/[\\/]dist-bench[\\/]bench[\\/]/.test(url)) return 'the bench itself (set-up, clean-up, measuring)';
  if (url.startsWith('evalmachine')) return 'workflow sandbox (SDK glue)';
  if (/workflow-bundle|webpack|dist[\\/]bundle|[\\/]workflows[\\/]/.test(url)) return 'workflow code (bundle)';
  const pkg = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(url);
  if (pkg) return pkg[1].replace(/\\/g, '/');
  if (url.startsWith('node:')) return 'node internals';
  if (/[\\/]src[\\/]|[\\/]dist(-bench)?[\\/]/.test(url)) return 'orchestrate';
  return 'other';
}

function summarise(file: string, top: number): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Native time (a file system call, a spawn) and Node's own code belong to the code that made the call: the
  // area of its nearest caller outside Node.
  const callerOf = (id: number): ProfileNode['callFrame'] | null => {
    for (let at = parent.get(id); at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)?.callFrame;
      if (f?.url && !f.url.startsWith('node:')) return f;
    }
    return null;
  };
  const frameKey = (f: ProfileNode['callFrame']) =>
    `${f.functionName || '(anonymous)'} ${path.basename(f.url)}:${f.lineNumber + 1}`;
  const areas = new Map<string, number>();
  const callers = new Map<string, number>();
  /** Orchestrate's functions, each with the native and Node time of the calls it made. */
  const ours = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const area = areaOf(url, functionName);
    if (area === 'idle') continue;
    total += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const frame = area === 'native / (program)' || area === 'node internals' ? callerOf(id) : n.callFrame;
    const caller = frame ? areaOf(frame.url, frame.functionName) : 'native / (program)';
    callers.set(caller, (callers.get(caller) ?? 0) + us);
    if (frame && caller === 'orchestrate') ours.set(frameKey(frame), (ours.get(frameKey(frame)) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url ? `${path.basename(url)}:${lineNumber + 1}` : ''} [${area}]`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return [
    `## ${path.basename(file)}: ${ms(total).trim()} of CPU (idle excluded)`,
    '',
    'by area:',
    ...sorted(areas)
      .slice(0, 12)
      .map(([a, us]) => `  ${ms(us)} ${pct(us)}  ${a}`),
    '',
    'by area, native and Node time counted to its caller:',
    ...sorted(callers)
      .slice(0, 12)
      .map(([a, us]) => `  ${ms(us)} ${pct(us)}  ${a}`),
    '',
    ...(ours.size
      ? [
          `orchestrate's costliest functions, with the calls into Node they made (top ${top}):`,
          ...sorted(ours)
            .slice(0, top)
            .map(([f, us]) => `  ${ms(us)} ${pct(us)}  ${f}`),
          '',
        ]
      : []),
    `top ${top} functions (self time):`,
    ...sorted(fns)
      .slice(0, top)
      .map(([f, us]) => `  ${ms(us)} ${pct(us)}  ${f}`),
    '',
  ].join('\n');
}

function main(argv: string[]): void {
  const dir = argv[0];
  if (!dir) throw new Error('usage: node dist-bench/bench/profile.js <folder of .cpuprofile files> [top N]');
  const top = Number(argv[1] ?? 15);
  if (!Number.isInteger(top) || top < 1) throw new Error(`top N must be a positive integer, got ${argv[1]}`);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
  if (!files.length) throw new Error(`no .cpuprofile files in ${dir}`);
  for (const f of files) process.stdout.write(summarise(f, top) + '\n');
}

main(process.argv.slice(2));
