import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BUILTIN_MIDDLEWARES } from '../libs/distribution/src/middleware/builtin';
import {
  builtinInstances,
  REFERENCE_PATH,
  renderMiddlewareReference,
} from '../libs/distribution/src/middleware/builtin/reference';

/**
 * `npm run docs:middleware`: writes docs/middleware-reference.md (or the path given) from the
 * built-in middlewares' schemas and descriptions. Run from the repository root, as npm does.
 * A test (builtin/reference.spec.ts) fails while the file in the repository is not what this writes.
 */
const target = resolve(process.argv[2] ?? REFERENCE_PATH);
writeFileSync(target, renderMiddlewareReference(builtinInstances(BUILTIN_MIDDLEWARES)));
console.log(`wrote ${target}`);
