// `npm run bench [-- --quick]`: orchestration overhead, cycle makespan against the seed's sequential loop,
// scale and cancel latency, on a real Temporal dev server with an in-process worker and the fake agent.
// Prints markdown tables, writes JSON to bench/results/, and renders the makespan plot (bench/plot.mjs).
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import execa from 'execa';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { groupMembers } from '../src/runner/processGroup';
import { startDevServer, stopDevServer, type DevServerOptions } from '../src/devserver/server';
import { findTemporalCli } from '../src/devserver/temporalBin';
import { p2, p3, scale } from './cycles';
import { REPO_ROOT, freePorts, makeTemplateRepo, round, type BenchBase } from './lib';
import { p1 } from './p1';
import { p4 } from './p4';
import { p5 } from './p5';
import { log, parseCli } from './params';
import { report, type Results } from './report';

// ---------------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const { params } = cli;
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orchestrate-bench-'));
  const [port, uiPort] = await freePorts(2);
  const server: DevServerOptions = {
    stateDir: path.join(dir, 'server-state'),
    ip: '127.0.0.1',
    port,
    uiPort,
    namespace: 'default',
  };
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  const floorBundlePath = path.join(dir, 'floor-bundle.js');
  const results: Results = {
    mode: params.mode,
    startedAt: new Date(started).toISOString(),
    machine: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      memGb: round(os.totalmem() / 2 ** 30, 1),
    },
    params,
    loadAverageAtStart: os.loadavg().map((x) => round(x, 2)),
  };
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  let stopServer = false;
  let watchdog: NodeJS.Timeout | undefined;
  let connection: NativeConnection | undefined;
  let clientConnection: Connection | undefined;
  try {
    try {
      results.commit = (await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT })).stdout.trim();
      results.temporalCli = (await execa(findTemporalCli(), ['--version'])).stdout.trim();
    } catch {
      // informational only
    }
    log(`dev server on 127.0.0.1:${port}, workflow bundle, in ${dir}`);
    const t0 = performance.now();
    const bundle = (out: string, ...workflows: string[]) =>
      execa(process.execPath, [path.join(__dirname, 'bundle.js'), out, ...workflows]);
    const bundling = bundle(bundlePath)
      .then(() => bundle(floorBundlePath, path.join(REPO_ROOT, 'bench/floor/workflows.ts')))
      .then(() => performance.now() - t0);
    const srv = await startDevServer({ ...server, timeoutMs: 60_000 });
    stopServer = true;
    const serverMs = performance.now() - t0;
    const bundleMs = await bundling;
    results.setup = { devServerStartMs: round(serverMs), workflowBundleMs: round(bundleMs) };
    connection = await NativeConnection.connect({ address: srv.address });
    clientConnection = await Connection.connect({ address: srv.address });
    const base: BenchBase = {
      dir,
      address: srv.address,
      namespace: server.namespace,
      connection,
      client: new Client({ connection: clientConnection, namespace: server.namespace }),
      bundlePath,
      floorBundlePath,
      serverPort: port,
      uiPort,
      templateRepo: makeTemplateRepo(dir),
    };
    // On a shared machine something else may stop our server: fail with that, instead of waiting forever.
    const serverPid = srv.pid;
    const serverGone = new Promise<never>((_, reject) => {
      watchdog = setInterval(() => {
        if (serverPid !== null && groupMembers(serverPid).length === 0) {
          reject(new Error(`the dev server (pid ${serverPid}) exited during the bench; its log: ${srv.logPath}`));
        }
      }, 1000);
    });
    serverGone.catch(() => undefined);
    // Each phase's figures are written as soon as it ends: a run cut short keeps what it measured.
    const phase = async <T>(work: Promise<T>): Promise<T> => {
      const out = await Promise.race([work, serverGone]);
      // After the caller has stored the figures (its continuation runs before any macrotask).
      setImmediate(() => writeResults(cli.label, { ...results, partial: true }));
      return out;
    };
    // P3 first: its peak RSS should be a fresh worker's, not one that already ran the other phases (V8 and
    // the SDK's native side keep the memory they grew to).
    if (cli.only.has('p3')) results.p3 = await phase(p3(base, params.p3, srv.pid));
    if (cli.only.has('p1')) {
      log(`P1: ${params.p1.jobs} jobs and as many bare spawns`);
      results.p1 = await phase(p1(base, params.p1));
    }
    if (cli.only.has('p2')) results.p2 = await phase(p2(base, params.p2, params.plot));
    if (cli.only.has('p4')) {
      log(`P4: ${params.p4.repeats} cancels per variant`);
      results.p4 = await phase(p4(base, params.p4));
    }
    if (cli.only.has('scale')) {
      log(`scale: one cycle at each of ${params.scale.join(', ')} projects`);
      results.scale = await phase(scale(base, params.scale, srv.pid));
    }
    if (cli.only.has('p5')) {
      log(`P5: CLI start-up CPU, ${params.p5.runs} runs per command`);
      results.p5 = await phase(p5(base, params.p5));
    }
  } finally {
    clearInterval(watchdog);
    await connection?.close().catch(() => undefined);
    await clientConnection?.close().catch(() => undefined);
    if (stopServer) await stopDevServer(server).catch((e: Error) => log(`could not stop the dev server: ${e.message}`));
    rmSync(dir, { recursive: true, force: true });
  }
  results.totalS = round((Date.now() - started) / 1000, 1);
  // Other work on the machine skews every figure: keep the load next to them.
  results.loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));

  const resultsDir = path.join(REPO_ROOT, 'bench/results');
  const jsonPath = writeResults(cli.label, results);
  process.stdout.write(`\n## orchestrate bench (${params.mode}, ${results.totalS} s)\n\n${report(results)}\n`);
  log(`results: ${path.relative(REPO_ROOT, jsonPath)}`);
  if (results.p2 || results.scale) {
    // The committed figure comes from full runs only; a quick run renders to dist-bench/ to keep the plot code alive.
    const svg =
      params.mode === 'quick'
        ? path.join(REPO_ROOT, 'dist-bench', 'makespan-quick.svg')
        : path.join(resultsDir, cli.label === 'full' ? 'makespan.svg' : `makespan-${cli.label}.svg`);
    await execa(process.execPath, [path.join(REPO_ROOT, 'bench/plot.mjs'), jsonPath, svg], { stdio: 'inherit' });
    log(`plot: ${path.relative(REPO_ROOT, svg)}`);
  }
}

/** Writes bench/results/<label>.json; returns its path. */
function writeResults(label: string, results: Results): string {
  const resultsDir = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const jsonPath = path.join(resultsDir, `${label}.json`);
  writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');
  return jsonPath;
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
