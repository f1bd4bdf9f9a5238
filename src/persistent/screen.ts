// Reading an interactive agent's screen (a tmux pane capture): where its input prompt is, what sits in it, whether
// the agent is busy, and what it answered. Pure: text in, facts out.
import { stripAnsi } from '../agents/result';

/** An input-prompt line: `> text`, optionally inside a box (`│ > text │`). Not `❯`: that marks menu choices. */
const PROMPT_RE = /^\s*(?:[│┃|]\s*)?>(?:\s|$)/;
const PROMPT_PREFIX_RE = /^\s*(?:[│┃|]\s*)?>\s?/;
const RULE_RE = /^\s*[╭╰]?[─━═]{3,}[╮╯]?\s*$|^\s*-{10,}\s*$/;
/** Claude Code 2.x's input prompt: `❯ text` right under a rule (a menu's `❯ 1. Yes` has no rule above it). */
const RULED_PROMPT_RE = /^\s*❯(?:\s|$)/;
const isPromptLine = (lines: string[], i: number): boolean =>
  PROMPT_RE.test(lines[i]) || (RULED_PROMPT_RE.test(lines[i]) && i > 0 && RULE_RE.test(lines[i - 1]));
/**
 * What Claude Code shows while it works: "✻ Thinking… (12s · esc to interrupt)", or its spinner alone ("✢
 * Shimmying…", a glyph and a word ending in an ellipsis; the line it leaves after a turn, "✻ Worked for 3s",
 * has none).
 */
const BUSY_RE = /esc to interrupt|ctrl\+c to interrupt|^\s*[·✢✳✶✻✽]\s+\p{Lu}[\p{L}-]*…/iu;

export interface Screen {
  text: string;
  lines: string[];
  /** Index of the input prompt line (the last prompt-looking line near the bottom), or null. */
  inputAt: number | null;
  /** Text in the input area, or null when there is no recognisable input prompt. */
  input: string | null;
  busy: boolean;
}

export function parseScreen(raw: string): Screen {
  const text = stripAnsi(raw);
  const lines = text.split('\n').map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let inputAt: number | null = null;
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 40; i--) {
    if (isPromptLine(lines, i)) {
      inputAt = i;
      break;
    }
  }
  let input: string | null = null;
  if (inputAt !== null) {
    const rows = [lines[inputAt].replace(PROMPT_PREFIX_RE, '').replace(/^\s*❯\s?/, '')];
    for (let j = inputAt + 1; j < lines.length; j++) {
      if (lines[j].trim() === '' || RULE_RE.test(lines[j]) || /^\s*╰/.test(lines[j])) break;
      rows.push(lines[j].trim());
    }
    input = rows
      .map((r) => r.replace(/\s*[│┃]\s*$/, ''))
      .join('\n')
      .trim();
  }
  const busy = lines.slice(-15).some((l) => BUSY_RE.test(l));
  return { text, lines, inputAt, input, busy };
}

/** The screen without the lines that change while the agent merely works (its spinner and timer). */
export function withoutSpinner(s: Screen): string {
  return s.lines.filter((l) => !BUSY_RE.test(l)).join('\n');
}

/** At its input prompt and not working: the only state in which typed text goes where it should. */
export function isIdle(s: Screen): boolean {
  return s.inputAt !== null && !s.busy;
}

/** What the input area shows (the whole screen, for agents whose prompt is not recognised). */
export function inputView(s: Screen): string {
  return s.input ?? s.text;
}

/** Text compared without its whitespace: a TUI wraps and indents what it echoes. */
export const withoutSpace = (s: string) => s.replace(/\s+/g, '');

/** Index where the transcript area ends: the rules and blank lines just above the input prompt. */
function transcriptEnd(s: Screen): number {
  if (s.inputAt === null) return s.lines.length;
  let end = s.inputAt;
  while (
    end > 0 &&
    (RULE_RE.test(s.lines[end - 1]) || s.lines[end - 1].trim() === '' || /^\s*╭/.test(s.lines[end - 1]))
  )
    end--;
  return end;
}

/** Tidies the agent's lines: no "⏺ " bullets, continuation indent removed, no spinner, no blank ends. */
function tidy(lines: string[]): string {
  const kept = lines.filter((l) => !BUSY_RE.test(l)).map((l) => l.replace(/^\s*[⏺●]\s?/, ''));
  const indents = kept.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length);
  const cut = Math.min(2, ...(indents.length > 1 ? indents.slice(1) : [0]));
  const out = kept.map((l, i) => (i > 0 && l.startsWith(' '.repeat(cut)) ? l.slice(cut) : l));
  while (out.length > 0 && out[0].trim() === '') out.shift();
  while (out.length > 0 && out[out.length - 1].trim() === '') out.pop();
  return out.join('\n');
}

/**
 * The agent's answer to `prompt` on screen: the lines after the prompt's echo ("> prompt") and before the input
 * box. Without a recognisable echo: the last 40 lines of the transcript area.
 */
export function answerFromPane(raw: string, prompt: string): string {
  const s = parseScreen(raw);
  const end = transcriptEnd(s);
  const target = withoutSpace(prompt);
  let start = -1;
  let lastEcho = -1;
  for (let i = end - 1; i >= 0 && start < 0; i--) {
    if (!PROMPT_RE.test(s.lines[i])) continue;
    if (lastEcho < 0) lastEcho = i + 1;
    let acc = withoutSpace(s.lines[i].replace(PROMPT_PREFIX_RE, ''));
    if (!target.startsWith(acc.slice(0, Math.min(acc.length, target.length)))) continue;
    let j = i;
    while (acc.length < target.length && j + 1 < end) acc += withoutSpace(s.lines[++j]);
    if (acc.startsWith(target)) start = j + 1;
  }
  if (start < 0) start = lastEcho >= 0 ? lastEcho : Math.max(0, end - 40);
  return tidy(s.lines.slice(start, end));
}

/** The last non-empty line of the transcript area, for heartbeats. */
export function lastLine(s: Screen): string {
  const end = transcriptEnd(s);
  for (let i = end - 1; i >= 0; i--) {
    const l = s.lines[i].trim();
    if (l) return l.slice(0, 200);
  }
  return '';
}

/**
 * How long the screen has stayed unchanged, fed one capture at a time. The clock starts when the tracker is
 * made, and again at every change (an empty first screen counts as unchanged).
 */
export class Stillness {
  private last = '';
  private since: number;

  constructor(now: number) {
    this.since = now;
  }

  /** Milliseconds the screen has been unchanged, counting this capture. */
  observe(text: string, now: number): number {
    if (text !== this.last) {
      this.last = text;
      this.since = now;
    }
    return now - this.since;
  }
}
