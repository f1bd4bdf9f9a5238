// A scripted Anthropic Messages API for the real Claude Code CLI: plain node:http on 127.0.0.1 (a free port),
// answering `POST /v1/messages` with server-sent events the way the CLI reads them (message_start,
// content_block_start/delta/stop, message_delta, message_stop). Each test picks a scenario: what the "model"
// answers at each step of the conversation, or which API failure it meets. Every request is logged, so tests
// can assert what reached the model (CLAUDE.md, skills, prompts, tool results).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request the CLI sent. */
export interface LoggedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body (null when there was none or it did not parse). */
  body: MessagesBody | null;
}

export interface MessagesBody {
  model: string;
  stream?: boolean;
  system?: unknown;
  messages: Array<{ role: string; content: unknown }>;
  tools?: Array<{ name: string; description?: string }>;
  [key: string]: unknown;
}

/** What the API does with one `POST /v1/messages`. */
export type Reply =
  | { text: string; usage?: Usage }
  | { toolUse: { name: string; input: Record<string, unknown> }; text?: string; usage?: Usage }
  | { status: number; errorType?: string; message?: string; headers?: Record<string, string> }
  /** The connection is dropped before any answer (the CLI reports ECONNRESET). */
  | { drop: true }
  /** No answer at all: the request hangs until the CLI gives up (API_TIMEOUT_MS). */
  | { hang: true };

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** Token counts every scripted answer reports unless it says otherwise (the CLI prices them itself). */
export const DEFAULT_USAGE: Usage = { input_tokens: 1000, output_tokens: 100 };

export interface ReplyContext {
  body: MessagesBody;
  /** Assistant turns already in the conversation: 0 for the first call, 1 after one tool round trip, … */
  step: number;
  /** 0-based index of this call among all `POST /v1/messages` this server has seen. */
  call: number;
}

export type Scenario = (ctx: ReplyContext) => Reply;

/** The conversation's replies in order, one per step; the last is repeated after the script ends. */
export function steps(...replies: Reply[]): Scenario {
  return ({ step }) => replies[Math.min(step, replies.length - 1)];
}

/** `first` for the first `times` calls, then `then`. */
export function failing(times: number, first: Reply, then: Scenario): Scenario {
  return (ctx) => (ctx.call < times ? first : then(ctx));
}

export interface MessagesApi {
  /** http://127.0.0.1:<port>, for ANTHROPIC_BASE_URL. */
  url: string;
  /** Every request, in arrival order. */
  requests: LoggedRequest[];
  /** Only the `POST /v1/messages` requests (model calls). */
  messageCalls: () => LoggedRequest[];
  /** Swaps the scenario (the call counter keeps counting). */
  setScenario: (scenario: Scenario) => void;
  close: () => Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/** Headers of a subscriber's usage limit: the claude.ai plan's window is used up until `resetAt`. */
export function unifiedLimitHeaders(resetAt: Date, claim = 'five_hour'): Record<string, string> {
  const reset = String(Math.floor(resetAt.getTime() / 1000));
  return {
    'anthropic-ratelimit-unified-status': 'rejected',
    'anthropic-ratelimit-unified-reset': reset,
    'anthropic-ratelimit-unified-representative-claim': claim,
    [`anthropic-ratelimit-unified-${claim.replace('_', '-')}-status`]: 'rejected',
    [`anthropic-ratelimit-unified-${claim.replace('_', '-')}-reset`]: reset,
  };
}

function sse(res: http.ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

function blocksOf(reply: Extract<Reply, { text: string } | { toolUse: unknown }>): Block[] {
  const blocks: Block[] = [];
  if ('text' in reply && reply.text !== undefined) blocks.push({ type: 'text', text: reply.text });
  if ('toolUse' in reply) {
    blocks.push({ type: 'tool_use', id: `toolu_${randomUUID().replace(/-/g, '')}`, ...reply.toolUse });
  }
  return blocks;
}

function answer(
  res: http.ServerResponse,
  body: MessagesBody,
  reply: Extract<Reply, { text: string } | { toolUse: unknown }>,
) {
  const blocks = blocksOf(reply);
  const usage = reply.usage ?? DEFAULT_USAGE;
  const stopReason = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
  const id = `msg_${randomUUID().replace(/-/g, '')}`;
  const message = { id, type: 'message', role: 'assistant', model: body.model, stop_sequence: null };
  if (body.stream === false) {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${id}` });
    res.end(JSON.stringify({ ...message, content: blocks, stop_reason: stopReason, usage }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_${id}` });
  sse(res, 'message_start', {
    type: 'message_start',
    message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
  });
  blocks.forEach((block, index) => {
    if (block.type === 'text') {
      sse(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      sse(res, 'content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'text_delta', text: block.text },
      });
    } else {
      sse(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      sse(res, 'content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
  });
  sse(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

/** Starts the API on a free loopback port. */
export async function startMessagesApi(initial: Scenario): Promise<MessagesApi> {
  let scenario = initial;
  let calls = 0;
  const requests: LoggedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: MessagesBody | null = null;
      try {
        body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as MessagesBody) : null;
      } catch {
        body = null;
      }
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const pathname = (req.url ?? '').split('?')[0];
      if (req.method !== 'POST' || pathname !== '/v1/messages' || body === null) {
        // HEAD / (a reachability probe) and anything else the CLI may try: an empty 200 or a 404.
        res.writeHead(req.method === 'HEAD' || pathname === '/' ? 200 : 404, { 'content-type': 'application/json' });
        res.end(req.method === 'HEAD' ? undefined : '{}');
        return;
      }
      const step = body.messages.filter((m) => m.role === 'assistant').length;
      const reply = scenario({ body, step, call: calls++ });
      if ('drop' in reply) {
        req.socket.destroy();
      } else if ('hang' in reply) {
        // Left open: the CLI's own timeout ends it, or close() does.
      } else if ('status' in reply) {
        const type = reply.errorType ?? ERROR_TYPES[reply.status] ?? 'api_error';
        res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) });
        res.end(JSON.stringify({ type: 'error', error: { type, message: reply.message ?? type } }));
      } else {
        answer(res, body, reply);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    messageCalls: () => requests.filter((r) => r.method === 'POST' && r.url.split('?')[0] === '/v1/messages'),
    setScenario: (s) => {
      scenario = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Every text the model was shown in a request (system, messages, tool results), joined: for `toContain`. */
export function textOf(req: LoggedRequest): string {
  return JSON.stringify(req.body ?? {});
}
