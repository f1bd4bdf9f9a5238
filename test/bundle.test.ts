// The prebuilt workflow bundle: `npm run build` writes it, workers use it, a stale one is not used.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prebuiltWorkflowBundle, SHARED_WORKFLOW_MODULES, WORKFLOW_BUNDLE_FILE } from '../src/bundle';
import { REPO_ROOT } from './helpers/env';

test('npm run build leaves a fresh bundle in dist/ holding the workflows', () => {
  const found = prebuiltWorkflowBundle(path.join(REPO_ROOT, 'dist'));
  expect(found).toEqual({ path: path.join(REPO_ROOT, 'dist', WORKFLOW_BUNDLE_FILE), reason: 'prebuilt' });
  const code = fs.readFileSync(found.path as string, 'utf8');
  // The workflow types the client starts by name are in it.
  for (const name of ['agentJob', 'cycle', 'eod', 'rollover']) expect(code).toContain(name);
});

test("the bundle's source map points at the TypeScript sources without holding their text", () => {
  const code = fs.readFileSync(path.join(REPO_ROOT, 'dist', WORKFLOW_BUNDLE_FILE), 'utf8');
  const inline = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,(\S+)\s*$/.exec(code);
  expect(inline).not.toBeNull();
  const map = JSON.parse(Buffer.from((inline as RegExpExecArray)[1], 'base64').toString()) as {
    sources: string[];
    sourcesContent?: unknown;
    mappings: string;
  };
  expect(map.sources).toContain(path.join(REPO_ROOT, 'src', 'workflows', 'agentJob.ts'));
  expect(map.mappings.length).toBeGreaterThan(0);
  expect(map.sourcesContent).toBeUndefined();
});

test('none, fresh, stale', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orch-bundle-'));
  try {
    fs.mkdirSync(path.join(dir, 'workflows'));
    const module = path.join(dir, 'workflows', 'index.js');
    fs.writeFileSync(module, '');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(module, old, old);
    expect(prebuiltWorkflowBundle(dir)).toEqual({
      path: null,
      reason: `no prebuilt workflow bundle at ${path.join(dir, WORKFLOW_BUNDLE_FILE)}`,
    });

    const bundle = path.join(dir, WORKFLOW_BUNDLE_FILE);
    fs.writeFileSync(bundle, '');
    expect(prebuiltWorkflowBundle(dir).path).toBe(bundle);

    // Compiled again without `npm run build`: the bundle no longer matches the code.
    const newer = new Date(Date.now() + 60_000);
    fs.utimesSync(module, newer, newer);
    expect(prebuiltWorkflowBundle(dir)).toEqual({
      path: null,
      reason: `${bundle} is older than the compiled code (run \`npm run build\`)`,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('the workflow modules shared by every workflow of a thread', () => {
  const src = path.join(REPO_ROOT, 'src');

  test.each(SHARED_WORKFLOW_MODULES.map((m) => [m]))('%s holds no module-level mutable state', (m) => {
    const code = fs.readFileSync(path.join(src, `${m}.ts`), 'utf8');
    // Shared: a top-level let or var would be one value for every workflow on the thread (exports are frozen, a
    // module's own variables are not). Other mutable state (a Map filled at run time) is left to review.
    expect(code.match(/^(?:export\s+)?(?:let|var)\s+\w+/gm) ?? []).toEqual([]);
  });

  test('every lib/ and temporal/ module the workflows load is shared', () => {
    const bundle = fs.readFileSync(path.join(REPO_ROOT, 'dist', WORKFLOW_BUNDLE_FILE), 'utf8');
    const loaded = [...bundle.matchAll(/^\/\*\*\*\/ "\.\/dist\/((?:lib|temporal)\/[\w/]+)\.js"/gm)].map((x) => x[1]);
    expect(loaded.length).toBeGreaterThan(0);
    expect([...loaded].sort()).toEqual([...SHARED_WORKFLOW_MODULES].sort());
  });
});
