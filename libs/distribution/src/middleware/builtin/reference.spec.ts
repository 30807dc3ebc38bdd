import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_MIDDLEWARES } from './index';
import { builtinInstances, REFERENCE_PATH, renderMiddlewareReference } from './reference';

const ROOT = join(__dirname, '../../../../..');

describe('docs/middleware-reference.md', () => {
  const generated = renderMiddlewareReference(builtinInstances(BUILTIN_MIDDLEWARES));

  it('is what `npm run docs:middleware` writes from the built-ins (run it after changing them)', () => {
    expect(readFileSync(join(ROOT, REFERENCE_PATH), 'utf8')).toBe(generated);
  });

  it('has a section for every built-in, with its settings and the task tags it reads', () => {
    for (const middleware of builtinInstances(BUILTIN_MIDDLEWARES)) {
      expect(generated).toContain(`## \`${middleware.name}\``);
    }
    for (const text of [
      '- `geoipDatabase` (non-empty string)',
      '- `latitude` (number from -90 to 90, required)',
      '- `allow` (boolean, default `true`)',
      '- `protes.node` (string)',
      '- `protes.region` (string)',
      '- `protes.size:<path>` (string of digits)',
    ]) {
      expect(generated).toContain(text);
    }
  });
});
