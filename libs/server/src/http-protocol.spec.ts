import { jsonDepth, MAX_JSON_DEPTH } from './http-protocol';

describe('jsonDepth', () => {
  it('counts the nesting of arrays and objects', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('{"executors":[{"command":["x"]}]}')).toBe(4);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    expect(jsonDepth('{"a":"[[[{{\\"[[["}')).toBe(1);
  });

  it('stops counting just past the limit on a hostile body', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(jsonDepth(deep)).toBe(MAX_JSON_DEPTH + 1);
  });
});
