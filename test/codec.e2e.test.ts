// Payload encryption: with a key configured, prompts and results are encrypted at rest in the server.
import { Client } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { AesGcmCodec, dataConverterFromEnv } from '../src/temporal/codec';
import { jobResult, startJob } from '../src/temporal/client';
import { makeEnv, type TestEnv } from './helpers/env';

const key = randomBytes(32);
let env: TestEnv;

beforeAll(async () => {
  env = await makeEnv({ projects: { cdc1: '' }, dataConverter: { payloadCodecs: [new AesGcmCodec(key)] } });
});
afterAll(async () => env?.stop());

function byteStrings(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('latin1'));
  else if (typeof value === 'string') out.push(value);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) byteStrings(v, out);
  return out;
}

test('the history holds no plaintext of the prompt or the result; the keyed client reads it back', async () => {
  const prompt = 'PLAINTEXT-PROMPT-7c1e deploy the thing';
  const { handle } = await startJob(env.client, env.config, { project: 'cdc1', kind: 'run', prompt });
  const r = await jobResult(handle, 'cdc1');
  expect(r.outcome).toBe('succeeded');
  expect(r.result).toBe(`Done: ${prompt}`);

  const history = await handle.fetchHistory();
  const all = byteStrings(history).join('\n');
  expect(all).not.toContain('PLAINTEXT-PROMPT-7c1e');
  expect(all).toContain('binary/encrypted-aes256gcm');

  // Without the key, nothing can be read.
  const blind = new Client({ connection: env.client.connection, namespace: 'default' });
  await expect(blind.workflow.getHandle(handle.workflowId).result()).rejects.toThrow(/encoding/i);
});

test('a wrong key says so', async () => {
  const codec = new AesGcmCodec(randomBytes(32));
  const encoded = await new AesGcmCodec(key).encode([{ metadata: {}, data: Buffer.from('x') }]);
  await expect(codec.decode(encoded)).rejects.toThrow(/encrypted with another key/);
});

test('the key comes from ORCHESTRATE_ENCRYPTION_KEY or _FILE; none means no codec', () => {
  expect(dataConverterFromEnv({})).toBeUndefined();
  expect(dataConverterFromEnv({ ORCHESTRATE_ENCRYPTION_KEY: key.toString('base64') })?.payloadCodecs).toHaveLength(1);
  expect(() => dataConverterFromEnv({ ORCHESTRATE_ENCRYPTION_KEY: 'c2hvcnQ=' })).toThrow(/32 bytes/);
});
