// Stops the shared dev server started by test/globalSetup.ts and removes its temp folder.
import fs from 'node:fs';
import { stopDevServer } from '../src/devserver/server';
import type { GlobalTestState } from './globalSetup';

export default async function globalTeardown(): Promise<void> {
  const state: GlobalTestState | undefined = globalThis.__ORCHESTRATE_TEST_STATE__;
  if (!state) return;
  try {
    await stopDevServer(state.server);
  } finally {
    fs.rmSync(state.tmpDir, { recursive: true, force: true });
    globalThis.__ORCHESTRATE_TEST_STATE__ = undefined;
  }
}
