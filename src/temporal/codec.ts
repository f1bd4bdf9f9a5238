// Optional payload encryption: an AES-256-GCM payload codec, so prompts and results are encrypted at rest
// in the Temporal server (and in its Web UI unless a codec server is configured). Enabled when a key is
// given: ORCHESTRATE_ENCRYPTION_KEY (base64 of 32 bytes) or ORCHESTRATE_ENCRYPTION_KEY_FILE (a file with
// that text). The same key must be set for the worker and for the CLI / client scripts.
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const ENCODING = 'binary/encrypted-aes256gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class AesGcmCodec implements PayloadCodec {
  /** A short, non-secret fingerprint of the key, stored with each payload so a wrong key says so. */
  private readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32)
      throw new Error(`encryption key must be 32 bytes (base64 of 32 random bytes), got ${key.length}`);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(this.keyId) },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (Buffer.from(p.metadata?.[METADATA_ENCODING_KEY] ?? []).toString() !== ENCODING) return p;
      const keyId = Buffer.from(p.metadata?.['encryption-key-id'] ?? []).toString();
      if (keyId !== this.keyId) {
        throw new Error(
          `payload was encrypted with another key (id ${keyId}, ours ${this.keyId}): set the same ORCHESTRATE_ENCRYPTION_KEY for the worker and the client`,
        );
      }
      const data = Buffer.from(p.data ?? []);
      const iv = data.subarray(0, IV_BYTES);
      const tag = data.subarray(data.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

/** The data converter to use, from the environment: encryption when a key is configured, else the default. */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  let text = env.ORCHESTRATE_ENCRYPTION_KEY;
  if (!text && env.ORCHESTRATE_ENCRYPTION_KEY_FILE) text = readFileSync(env.ORCHESTRATE_ENCRYPTION_KEY_FILE, 'utf8');
  if (!text) return undefined;
  return { payloadCodecs: [new AesGcmCodec(Buffer.from(text.trim(), 'base64'))] };
}
