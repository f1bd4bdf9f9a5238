// An agent's event stream (stream-json and the like) as a conversation a person reads: its text, its tool
// calls with their inputs shortened, tool results cut to a few lines, API retries, errors highlighted, and the
// result. Lines that are no agent event pass through as they were written. Colour only on a terminal.
import { lineEvents, type StreamEvent } from '../../agents/stream';
import { formatCount, formatUsd } from './format';

/** Lines of a tool result shown; the rest is counted. */
const RESULT_LINES = 4;
const RESULT_LINE_CHARS = 160;

type Paint = (s: string) => string;

function painter(color: boolean): Record<'dim' | 'red' | 'green' | 'yellow' | 'cyan' | 'bold', Paint> {
  const sgr = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { dim: sgr('2'), red: sgr('31'), green: sgr('32'), yellow: sgr('33'), cyan: sgr('36'), bold: sgr('1') };
}

/** Whether `out` gets colour: a terminal, unless NO_COLOR or TERM=dumb. */
export function wantsColor(out: NodeJS.WritableStream & { isTTY?: boolean }): boolean {
  return Boolean(out.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

function clip(line: string, max: number): string {
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Renders a stream fed to it in pieces of any size: a line is rendered once it is whole. */
export class ConversationRenderer {
  private partial = '';
  private cwd: string | null = null;
  private readonly paint: ReturnType<typeof painter>;

  constructor(color: boolean) {
    this.paint = painter(color);
  }

  /** The rendered text of the whole lines in `chunk` (plus what was left of the previous chunk). */
  push(chunk: string): string {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return lines.map((l) => this.line(l)).join('');
  }

  /** What is left once the stream has ended: a last line without its newline. */
  end(): string {
    const rest = this.partial;
    this.partial = '';
    return rest ? this.line(rest) : '';
  }

  private line(line: string): string {
    const events = lineEvents(line, this.cwd);
    const isEvent = events.length > 0 || (line.trimStart().startsWith('{"type"') && line.trim().endsWith('}'));
    if (!isEvent) return `${line}\n`;
    return events.map((e) => this.event(e)).join('');
  }

  private event(e: StreamEvent): string {
    const p = this.paint;
    switch (e.kind) {
      case 'init':
        this.cwd = e.cwd ?? this.cwd;
        return `${p.dim(`── session ${e.sessionId ?? '?'}${e.model ? ` · ${e.model}` : ''}${e.cwd ? ` · ${e.cwd}` : ''}`)}\n`;
      case 'text':
        return e.error ? `${p.red(`✗ ${e.text.trim()}`)}\n` : `${e.text.trim()}\n`;
      case 'tool_use':
        return `${p.cyan(`▸ ${e.summary}`)}\n`;
      case 'tool_result':
        return this.toolResult(e.text, e.error);
      case 'usage':
        return '';
      case 'retry':
        return `${p.yellow(`↻ ${e.text}`)}\n`;
      case 'rate_limit':
        return `${p.yellow(`⚠ ${e.text}`)}\n`;
      case 'error':
        return `${p.red(`✗ ${e.text}`)}\n`;
      case 'result': {
        const tokens = e.tokens ? e.tokens.input + e.tokens.output + e.tokens.cacheRead + e.tokens.cacheCreation : 0;
        const facts = [
          e.numTurns !== null ? `${e.numTurns} turns` : null,
          tokens > 0 ? `${formatCount(tokens)} tokens` : null,
          e.costUsd !== null ? formatUsd(e.costUsd) : null,
        ].filter(Boolean);
        const head = `${e.error ? '✗ result: error' : '✓ result'}${facts.length ? ` · ${facts.join(' · ')}` : ''}`;
        const body = e.error && e.text ? `\n${p.red(e.text.trim())}` : '';
        return `${e.error ? p.red(p.bold(head)) : p.green(p.bold(head))}${body}\n`;
      }
    }
  }

  private toolResult(text: string, error: boolean): string {
    const p = this.paint;
    const lines = text.replace(/\s+$/, '').split(/\r?\n/);
    const shown = lines.slice(0, RESULT_LINES).map((l) => `  │ ${clip(l, RESULT_LINE_CHARS)}`);
    if (lines.length > RESULT_LINES) shown.push(`  │ … ${lines.length - RESULT_LINES} more lines`);
    const body = shown.join('\n');
    return `${error ? p.red(body) : p.dim(body)}\n`;
  }
}
