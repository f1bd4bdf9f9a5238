// The pure parts of persistent jobs, without tmux: reading a screen (input prompt, busy, the answer), reading a
// transcript, the stillness clock, how an attempt starts from an earlier attempt's job.json, and the phases.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_SESSION_CRASHES, startJob, type JobState } from '../src/persistent/jobState';
import { JobMachine, PHASES, type JobPhase } from '../src/persistent/phase';
import { Stillness, answerFromPane, inputView, isIdle, lastLine, parseScreen } from '../src/persistent/screen';
import { interactiveShellCommand } from '../src/persistent/sessionFiles';
import { answerFromTranscript, answerInTranscript, promptTurnOffset } from '../src/persistent/transcript';

const RULE = '─'.repeat(60);
/** A screen as the TUI draws it: transcript lines, then the input box and its footer. */
const screen = (transcript: string[], input = '', footer: string[] = []) =>
  [...transcript, ...footer, RULE, `> ${input}`, RULE, '  ? for shortcuts', '', ''].join('\n');

describe('parseScreen', () => {
  test('finds the input prompt and the text typed into it', () => {
    const s = parseScreen(screen(['welcome'], 'fix the tests'));
    expect(s.inputAt).toBe(2);
    expect(s.input).toBe('fix the tests');
    expect(s.busy).toBe(false);
    expect(isIdle(s)).toBe(true);
    expect(inputView(s)).toBe('fix the tests');
  });

  test('an input box with borders; a prompt wrapped onto a second line', () => {
    const boxed = ['╭' + '─'.repeat(20) + '╮', '│ > inside the box   │', '╰' + '─'.repeat(20) + '╯'];
    expect(parseScreen(boxed.join('\n')).input).toBe('inside the box');
    const wrapped = [RULE, '> first half of', '  the prompt', RULE, '  ? for shortcuts'];
    expect(parseScreen(wrapped.join('\n')).input).toBe('first half of\nthe prompt');
  });

  test('escape sequences are stripped; a spinner saying "esc to interrupt" means busy', () => {
    const s = parseScreen(screen(['\x1b[1mhello\x1b[0m'], '', ['✻ Working… (3s · esc to interrupt)', '']));
    expect(s.text).not.toContain('\x1b');
    expect(s.lines[0]).toBe('hello');
    expect(s.busy).toBe(true);
    expect(isIdle(s)).toBe(false);
  });

  test('the spinner alone ("✢ Shimmying…") is busy too; the line a turn leaves ("✻ Worked for 3s") is not', () => {
    expect(parseScreen(screen(['> q'], '', ['✢ Shimmying…', ''])).busy).toBe(true);
    expect(parseScreen(screen(['> q', '⏺ answer', '', '✻ Worked for 3s'])).busy).toBe(false);
    expect(parseScreen(screen(['> q', '⏺ Loading… is what it printed'])).busy).toBe(false);
  });

  test('no recognisable prompt (a dialog, a menu marked ❯): not idle, the whole screen is the input view', () => {
    const raw = [
      RULE,
      ' Do you trust the files in this folder?',
      '',
      ' ❯ 1. Yes, proceed',
      '   2. No, exit',
      RULE,
    ].join('\n');
    const s = parseScreen(raw);
    expect(s.inputAt).toBeNull();
    expect(s.input).toBeNull();
    expect(isIdle(s)).toBe(false);
    expect(inputView(s)).toBe(s.text);
  });
});

describe('answerFromPane', () => {
  test('the lines after the prompt echo, without bullets, spinner or the input box', () => {
    const raw = screen(['welcome', '> do the thing', '', '⏺ Done: do the thing', '  second line', '']);
    expect(answerFromPane(raw, 'do the thing')).toBe('Done: do the thing\nsecond line');
  });

  test('a pane read mid-turn: the spinner is no part of the answer', () => {
    const raw = screen(['> do the thing', '', '⏺ half of it', '', '✢ Shimmying…']);
    expect(answerFromPane(raw, 'do the thing')).toBe('half of it');
  });

  test('a prompt echoed over several wrapped lines is matched without its whitespace', () => {
    const raw = screen(['> a long prompt that', '  wraps onto the next line', '⏺ answer']);
    expect(answerFromPane(raw, 'a long prompt that wraps onto the next line')).toBe('answer');
  });

  test('the answer to the last echo of the prompt, not an earlier one', () => {
    const raw = screen(['> same', '⏺ first', '> same', '⏺ second']);
    expect(answerFromPane(raw, 'same')).toBe('second');
  });

  test('without the echo: after the last echoed prompt, else the last lines of the transcript area', () => {
    expect(answerFromPane(screen(['> other prompt', '⏺ its answer']), 'mine')).toBe('its answer');
    expect(answerFromPane(screen(['just', 'text']), 'mine')).toBe('just\ntext');
  });
});

test('lastLine: the last non-empty line above the input box, at most 200 characters', () => {
  expect(lastLine(parseScreen(screen(['one', '⏺ two', '', ''])))).toBe('⏺ two');
  expect(lastLine(parseScreen(screen(['x'.repeat(300)])))).toHaveLength(200);
});

test('Stillness: time since the last change, the clock restarting at each change', () => {
  const still = new Stillness(1000);
  expect(still.observe('', 1100)).toBe(100); // an empty first screen counts as unchanged
  expect(still.observe('a', 1200)).toBe(0);
  expect(still.observe('a', 1500)).toBe(300);
  expect(still.observe('b', 1600)).toBe(0);
  expect(still.observe('b', 1700)).toBe(100);
});

describe('transcripts', () => {
  const line = (v: unknown) => JSON.stringify(v);
  const user = (content: unknown, extra = {}) => line({ type: 'user', message: { role: 'user', content }, ...extra });
  const assistant = (content: unknown, extra = {}) =>
    line({ type: 'assistant', message: { role: 'assistant', content }, ...extra });

  test('promptTurnOffset: where this job’s prompt turn starts; the end of the file until it is there', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-transcript-'));
    const at = (iso: string) => ({ timestamp: iso });
    try {
      const file = path.join(dir, 'session.jsonl');
      const earlier = `${[user('do it', at('2026-01-01T10:00:00Z')), assistant('done once'), user('other')].join('\n')}\n`;
      const jobStart = Date.parse('2026-01-01T11:00:00Z');
      writeFileSync(file, earlier);
      // An earlier job sent the same prompt: not this job's turn, which is still to come.
      expect(await promptTurnOffset(file, 'do it', jobStart)).toBe(Buffer.byteLength(earlier));
      const turn = `${user('do  it', at('2026-01-01T11:00:01Z'))}\n${assistant('é done')}\n`;
      writeFileSync(file, earlier + turn);
      expect(await promptTurnOffset(file, 'do it', jobStart)).toBe(Buffer.byteLength(earlier));
      // Without timestamps (an older CLI) the last such turn is taken.
      writeFileSync(file, `${user('x')}\n${user('do it')}\n`);
      expect(await promptTurnOffset(file, 'do it', jobStart)).toBe(Buffer.byteLength(`${user('x')}\n`));
      expect(await promptTurnOffset(path.join(dir, 'none.jsonl'), 'x', jobStart)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the assistant text after the prompt's user turn, sidechains, meta turns and torn lines skipped", () => {
    const jsonl = [
      user('an earlier prompt'),
      assistant([{ type: 'text', text: 'earlier answer' }]),
      user([{ type: 'text', text: 'the   prompt\nhere' }]),
      user('the prompt here', { isMeta: true }),
      assistant([{ type: 'tool_use', name: 'Bash' }]),
      assistant([{ type: 'text', text: 'from a subagent' }], { isSidechain: true }),
      '{"type": "assistant", "mess',
      assistant([{ type: 'text', text: 'part one' }]),
      assistant('part two'),
    ].join('\n');
    expect(answerInTranscript(jsonl, 'the prompt here')).toBe('part one\n\npart two');
  });

  test('null when the turn is not there, or has no text yet', () => {
    expect(answerInTranscript(user('something else'), 'mine')).toBeNull();
    expect(answerInTranscript([user('mine'), assistant([{ type: 'tool_use' }])].join('\n'), 'mine')).toBeNull();
    expect(answerInTranscript('', 'mine')).toBeNull();
  });

  test('read from a file; null for a file that is not there', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-transcript-'));
    try {
      const file = path.join(dir, 't.jsonl');
      writeFileSync(file, [user('ask'), assistant([{ type: 'text', text: 'reply' }])].join('\n') + '\n');
      await expect(answerFromTranscript(file, 'ask')).resolves.toBe('reply');
      await expect(answerFromTranscript(path.join(dir, 'missing.jsonl'), 'ask')).resolves.toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startJob', () => {
  let n = 0;
  const ids = (bytes: number) => `id${bytes}-${++n}`;
  const earlier = (over: Partial<JobState> = {}): JobState => ({
    jobKey: 'wf run 1',
    nonce: 'oldnonce',
    startedAt: 5,
    typedView: 'the prompt',
    enterPressed: true,
    reported: false,
    crashes: 0,
    ...over,
  });

  test('a new job: new nonce, started now, nothing adopted', () => {
    const s = startJob(null, 'wf run 1', false, 100, ids);
    expect(s).toMatchObject({ adopt: false, sameJob: false, crashedUnwatched: false });
    expect(s.state).toMatchObject({
      jobKey: 'wf run 1',
      startedAt: 100,
      typedView: null,
      enterPressed: false,
      crashes: 0,
    });
    expect(s.state.nonce).not.toBe('oldnonce');
  });

  test("called outside an activity: a direct job key, an earlier job's state ignored", () => {
    const s = startJob(earlier(), null, false, 100, ids);
    expect(s.state.jobKey).toMatch(/^direct /);
    expect(s.adopt).toBe(false);
  });

  test('the same job, Enter pressed, same session: adopted (same nonce, start and typed view)', () => {
    const s = startJob(earlier(), 'wf run 1', false, 100, ids);
    expect(s).toMatchObject({ adopt: true, sameJob: true, crashedUnwatched: false });
    expect(s.state).toMatchObject({ nonce: 'oldnonce', startedAt: 5, typedView: 'the prompt', enterPressed: true });
  });

  test('the same job, Enter pressed, but the session is new: a crash no worker saw, counted', () => {
    const s = startJob(earlier({ crashes: 1 }), 'wf run 1', true, 100, ids);
    expect(s).toMatchObject({ adopt: false, crashedUnwatched: true });
    expect(s.state.crashes).toBe(MAX_SESSION_CRASHES);
  });

  test('the same job before Enter, or already reported: typed again, crashes kept', () => {
    for (const prev of [earlier({ enterPressed: false, crashes: 1 }), earlier({ reported: true, crashes: 1 })]) {
      const s = startJob(prev, 'wf run 1', false, 100, ids);
      expect(s).toMatchObject({ adopt: false, sameJob: true, crashedUnwatched: false });
      expect(s.state.crashes).toBe(1);
      expect(s.state.nonce).not.toBe('oldnonce');
    }
  });

  test("another job's state: a fresh start", () => {
    const s = startJob(earlier({ crashes: 1 }), 'wf run 2', true, 100, ids);
    expect(s).toMatchObject({ adopt: false, sameJob: false, crashedUnwatched: false });
    expect(s.state.crashes).toBe(0);
  });
});

describe('phases', () => {
  test('the only way through: starting, typing, submitting, working; adopting jumps ahead', () => {
    const m = new JobMachine();
    expect(m.phase).toBe('starting');
    for (const p of ['typing', 'submitting', 'working'] as JobPhase[]) m.to(p);
    expect(m.phase).toBe('working');
    expect(() => m.to('typing')).toThrow(/no transition from working to typing/);
    const adopted = new JobMachine();
    adopted.to('working');
    expect(adopted.phase).toBe('working');
  });

  test('no way back, and no skipping Enter once typing', () => {
    const m = new JobMachine();
    m.to('typing');
    expect(() => m.to('working')).toThrow();
    expect(() => m.to('starting')).toThrow();
  });

  test('what each phase means', () => {
    expect(PHASES.starting).toMatchObject({ onStop: 'none', promptMayBeSent: false, waitingForAgent: true });
    expect(PHASES.typing).toMatchObject({ onStop: 'clear', promptMayBeSent: false, waitingForAgent: false });
    expect(PHASES.submitting).toMatchObject({ onStop: 'clear-or-interrupt', promptMayBeSent: true });
    expect(PHASES.working).toMatchObject({ onStop: 'interrupt', promptMayBeSent: true });
  });
});

test('interactiveShellCommand: the settings file at {settings}, else appended as --settings, shell-quoted', () => {
  expect(interactiveShellCommand('claude', "/s/it's.json")).toBe(`claude --settings '/s/it'\\''s.json'`);
  expect(interactiveShellCommand('agent --config {settings} --x', '/s/a.json')).toBe("agent --config '/s/a.json' --x");
});
