// Whether the dev server's ports are free, and whether what answers on them is a Temporal server that serves
// the namespace with orchestrate's search attributes: the probes startDevServer and devServerStatus use.
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { sleep } from '../lib/sleep';

export const POLL_INTERVAL_MS = 100;
/** Upper bound for one connect / RPC / HTTP attempt while polling. */
export const ATTEMPT_TIMEOUT_MS = 2_000;
/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING */
export const SERVING = 1;
/** host:port, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------------------------
// Network helpers

/** Can we bind ip:port right now? Throws for errors other than "in use" (bad ip, privileged port). */
export function portFree(ip: string, port: number, configKey: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(false);
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
        reject(
          new Error(`Cannot listen on ${ip}: it is not an address of this machine (${err.code}). Fix [server] ip.`),
        );
      else reject(new Error(`Cannot listen on ${hostPort(ip, port)} (${err.code ?? err.message}). Fix ${configKey}.`));
    });
    srv.listen({ host: ip.replace(/^\[(.*)\]$/, '$1'), port, exclusive: true }, () => {
      srv.close(() => resolve(true));
    });
  });
}

/**
 * portFree, asked again for up to waitMs. A port can be busy for a moment without a listener: right after a
 * server dies, a client retrying to reach it can get a TCP self-connection when the port lies in the
 * ephemeral range (source port == destination port), which holds the port until the client gives up.
 */
export async function portFreeWithin(ip: string, port: number, configKey: string, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await portFree(ip, port, configKey)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Does something accept TCP connections at address (host:port)? Fails fast on "connection refused". */
export function tcpOpen(address: string, timeoutMs: number): Promise<boolean> {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  if (!m) return Promise.resolve(true);
  return new Promise((resolve) => {
    const socket = net.connect({ host: m[1], port: Number(m[2]) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.on('error', () => done(false));
  });
}

export async function uiAnswers(uiUrl: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${uiUrl}/`, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.arrayBuffer().catch(() => undefined);
    return res.status < 500;
  } catch {
    return false;
  }
}

/** One gRPC round: health check says SERVING and the namespace is described. */
export async function checkFrontend(connection: Connection, namespace: string, timeoutMs: number): Promise<void> {
  await connection.withDeadline(Date.now() + timeoutMs, async () => {
    const health = await connection.healthService.check({});
    if (health.status !== SERVING) throw new Error(`health check status is ${String(health.status)}, not SERVING`);
    await connection.workflowService.describeNamespace({ namespace });
  });
}

interface WaitOptions {
  /** Also wait until the Web UI answers HTTP here. */
  uiUrl?: string;
  /** Called every poll; a returned Error aborts the wait (e.g. the server process exited). */
  abortIf?: () => Error | null;
}

/**
 * Polls until a Temporal frontend at `address` passes a gRPC health check and describes `namespace` (and, with
 * opts.uiUrl, the Web UI answers), or throws after timeoutMs with the last reason.
 */
export async function waitForServer(
  address: string,
  namespace: string,
  timeoutMs: number,
  opts: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let connection: Connection | undefined;
  let frontendReady = false;
  let lastError = 'not tried yet';
  try {
    for (;;) {
      const abort = opts.abortIf?.();
      if (abort) throw abort;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`Temporal at ${address} was not ready within ${Math.round(timeoutMs / 1000)} s: ${lastError}`);
      }
      const attempt = Math.min(left, ATTEMPT_TIMEOUT_MS);
      try {
        if (!frontendReady) {
          if (!connection && !(await tcpOpen(address, attempt))) throw new Error(`nothing listens at ${address} yet`);
          connection ??= await Connection.connect({ address, connectTimeout: attempt });
          await checkFrontend(connection, namespace, attempt);
          frontendReady = true;
        }
        if (opts.uiUrl && !(await uiAnswers(opts.uiUrl, attempt))) {
          throw new Error(`the Web UI at ${opts.uiUrl} does not answer yet`);
        }
        return;
      } catch (err) {
        lastError = errorMessage(err);
      }
      await sleep(Math.min(POLL_INTERVAL_MS, deadline - Date.now()));
    }
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** A single quick check: does a Temporal frontend answer at `address`? */
export async function answersAsTemporal(address: string, namespace: string, timeoutMs: number): Promise<boolean> {
  try {
    await waitForServer(address, namespace, timeoutMs);
    return true;
  } catch {
    return false;
  }
}
