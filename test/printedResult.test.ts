// When an agent's output already holds its complete result (the point the exit grace starts from), per profile.
import { hasPrintedResult, mayHoldResult } from '../src/agents/printedResult';

const result = JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'done', num_turns: 2 });
const init = JSON.stringify({ type: 'system', subtype: 'init', session_id: 's' });

describe('claude', () => {
  test('json: the whole result object, not a cut-off one', () => {
    expect(hasPrintedResult('claude', 'json', `${result}\n`)).toBe(true);
    expect(hasPrintedResult('claude', 'json', result.slice(0, -3))).toBe(false);
    expect(hasPrintedResult('claude', 'auto', `[${init},${result}]`)).toBe(true);
  });

  test('stream-json: the result line, not the lines before it nor a half-written one', () => {
    expect(hasPrintedResult('claude', 'stream-json', `${init}\n`)).toBe(false);
    expect(hasPrintedResult('claude', 'stream-json', `${init}\n${result.slice(0, 40)}`)).toBe(false);
    expect(hasPrintedResult('claude', 'stream-json', `${init}\n${result}\n`)).toBe(true);
  });

  test('text output has no end mark; a result quoted inside an assistant message is none', () => {
    expect(hasPrintedResult('claude', 'text', `${result}\n`)).toBe(false);
    const quoted = JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: result }] } });
    expect(mayHoldResult('claude', quoted)).toBe(false);
    expect(hasPrintedResult('claude', 'stream-json', `${init}\n${quoted}\n`)).toBe(false);
  });
});

test('codex: the event that closes its turn', () => {
  const started = JSON.stringify({ type: 'turn.started' });
  const completed = JSON.stringify({ type: 'turn.completed', usage: { input_tokens: 1 } });
  expect(hasPrintedResult('codex', 'auto', `${started}\n`)).toBe(false);
  expect(mayHoldResult('codex', `${started}\n${completed}\n`)).toBe(true);
  expect(hasPrintedResult('codex', 'auto', `${started}\n${completed}\n`)).toBe(true);
  expect(hasPrintedResult('codex', 'auto', `${completed}\n${started}\n`)).toBe(false);
});

test('gemini: its whole output object', () => {
  const out = JSON.stringify({ session_id: 'x', response: 'done', stats: {} }, null, 2);
  expect(hasPrintedResult('gemini', 'auto', out)).toBe(true);
  expect(hasPrintedResult('gemini', 'auto', out.slice(0, -2))).toBe(false);
});
