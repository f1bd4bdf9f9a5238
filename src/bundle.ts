// The workflow bundle, built once by `npm run build` (`node dist/bundle.js`) instead of by every worker at
// start-up: bundling in the worker costs ~1.5 s and ~75 MB of resident memory that webpack never gives back.
import type { BundleOptions } from '@temporalio/worker';
import fs from 'node:fs';
import path from 'node:path';

export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/**
 * The modules the workflows import that keep no state of their own (constants, types, pure functions), relative to
 * the folder above workflows/. The SDK's reusable V8 context evaluates a workflow's modules again for every workflow
 * that starts, so that module-level state never leaks from one to another; these are evaluated once per workflow
 * thread instead and shared (frozen) by every workflow in it (`preloadModules`): less work on every job's first
 * workflow task and less memory per cached workflow. A module listed here must never hold module-level mutable
 * state (test/bundle.test.ts checks for top-level `let`/`var`); workflows/ itself is never shared.
 */
export const SHARED_WORKFLOW_MODULES = [
  'lib/agentProgress',
  'lib/amounts',
  'lib/clip',
  'lib/dates',
  'lib/duration',
  'lib/outcomes',
  'lib/prompts',
  'lib/semaphore',
  'lib/usageLimit',
  'temporal/failures',
  'temporal/heartbeat',
  'temporal/ids',
  'temporal/jobPlan',
  'temporal/limits',
  'temporal/patches',
  'temporal/types',
  'temporal/ui',
] as const;

/**
 * The bundle's inline source map keeps its mappings (workflow stack traces and failures point at the TypeScript
 * sources) but not the sources' text: the SDK sends that text only with `showStackTraceSources`, which the worker
 * leaves off, yet every worker process holds it several times over (the bundle file read on the main thread, the
 * copy sent to the workflow thread, the map parsed on both). Without it a worker starts ~10 MB smaller (RSS).
 */
const withoutSourcesContent: NonNullable<BundleOptions['webpackConfigHook']> = (config) => ({
  ...config,
  devtool: 'inline-nosources-source-map',
});

/** How the workflow bundle is built, wherever it is (npm run build, the test suite, the bench, a worker). */
export function workflowBundleOptions(workflowsPath: string): {
  workflowsPath: string;
  preloadModules: string[];
  webpackConfigHook: NonNullable<BundleOptions['webpackConfigHook']>;
} {
  const root = path.dirname(path.dirname(workflowsPath));
  return {
    workflowsPath,
    preloadModules: SHARED_WORKFLOW_MODULES.map((m) => path.join(root, m)),
    webpackConfigHook: withoutSourcesContent,
  };
}

/** Newest modification time of the compiled modules next to the bundle (what the bundle is made of). */
function newestModuleMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestModuleMtime(full));
    else if (entry.name.endsWith('.js') && entry.name !== WORKFLOW_BUNDLE_FILE)
      newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * The prebuilt bundle next to the compiled code, or null when there is none (running from the TypeScript
 * sources) or it is older than the code it was built from (compiled without `npm run build`): then the worker
 * bundles at start-up, as `reason` says.
 */
export function prebuiltWorkflowBundle(dir = __dirname): { path: string | null; reason: string } {
  const file = path.join(dir, WORKFLOW_BUNDLE_FILE);
  if (!fs.existsSync(file)) return { path: null, reason: `no prebuilt workflow bundle at ${file}` };
  if (fs.statSync(file).mtimeMs < newestModuleMtime(dir))
    return { path: null, reason: `${file} is older than the compiled code (run \`npm run build\`)` };
  return { path: file, reason: 'prebuilt' };
}

async function main(): Promise<void> {
  const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
  const bundle = await bundleWorkflowCode({
    ...workflowBundleOptions(require.resolve('./workflows')),
    logger: new DefaultLogger('WARN'),
  });
  const out = path.join(__dirname, WORKFLOW_BUNDLE_FILE);
  fs.writeFileSync(`${out}.tmp`, bundle.code);
  fs.renameSync(`${out}.tmp`, out);
  process.stdout.write(`workflow bundle: ${out} (${Math.round(bundle.code.length / 1024)} KB)\n`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`cannot bundle the workflows: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
