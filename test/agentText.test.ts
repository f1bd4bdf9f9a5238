// The text helpers every agent-output parser shares: no cut ever splits a surrogate pair.
import { lastNonEmptyLine, lineAt, oneLine, truncateTail } from '../src/agents/text';

describe('agent text helpers', () => {
  test('oneLine collapses whitespace and cuts before a surrogate pair, not inside it', () => {
    expect(oneLine('  a\n\tb  c ')).toBe('a b c');
    const cut = oneLine(`abc😀def`, 5);
    expect(cut).toBe('abc…');
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  test('truncateTail keeps the end and never starts with half a surrogate pair', () => {
    const s = `${'x'.repeat(100)}😀${'y'.repeat(10)}`;
    const marker = '[truncated: earlier output omitted] …\n';
    const max = marker.length + 11; // would start on the pair's second half
    const t = truncateTail(s, max);
    expect(t.truncated).toBe(true);
    expect(t.text).toBe(`${marker}${'y'.repeat(10)}`);
    expect(truncateTail('short', 100)).toEqual({ text: 'short', truncated: false });
  });

  test('lineAt and lastNonEmptyLine', () => {
    expect(lineAt('one\ntwo three\nfour', 6)).toEqual({ line: 'two three', end: 13 });
    expect(lineAt('last', 2)).toEqual({ line: 'last', end: 4 });
    expect(lastNonEmptyLine('a\n\u001b[31mb\u001b[0m\n\n')).toBe('b');
    expect(lastNonEmptyLine(' \n')).toBeNull();
  });
});
