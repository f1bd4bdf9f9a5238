// Builds the workflow bundle in a child process, so webpack's memory never counts towards the worker's RSS
// measured by the bench. Usage: node dist-bench/bench/bundle.js <out.js> [workflows.ts] (default: the product's)
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { workflowBundleOptions } from '../src/bundle';

const PRODUCT_WORKFLOWS = path.join(__dirname, '../../src/workflows/index.ts');

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: bundle.js <out.js> [workflows.ts]');
  const own = process.argv[3];
  // The product's bundle as `npm run build` makes it; the floor's with the SDK's defaults.
  const options = own ? { workflowsPath: path.resolve(own) } : workflowBundleOptions(PRODUCT_WORKFLOWS);
  const bundle = await bundleWorkflowCode({ ...options, logger: new DefaultLogger('WARN') });
  writeFileSync(out, bundle.code);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
