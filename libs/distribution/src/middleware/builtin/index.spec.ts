import { Test } from '@nestjs/testing';
import { readdirSync } from 'node:fs';
import type { TaskMiddleware } from '../middleware';
import { BUILTIN_MIDDLEWARES, RANDOM_SOURCE, RandomMiddleware } from './index';
import { builtinInstances } from './reference';
import { context, names, node, settingsErrors } from './testing/fixtures';

describe('BUILTIN_MIDDLEWARES', () => {
  it('resolve as plain Nest providers, each named like its file', async () => {
    const module = await Test.createTestingModule({
      providers: [...BUILTIN_MIDDLEWARES],
    }).compile();
    const instances = BUILTIN_MIDDLEWARES.map((type) => module.get<TaskMiddleware>(type));
    const files = readdirSync(__dirname)
      .filter((f) => f.endsWith('.middleware.ts'))
      .map((f) => f.replace('.middleware.ts', ''));
    expect(instances.map((m) => m.name).sort()).toEqual(files.sort());
  });

  it('take a RANDOM_SOURCE when one is provided', async () => {
    const module = await Test.createTestingModule({
      providers: [RandomMiddleware, { provide: RANDOM_SOURCE, useValue: () => 0 }],
    }).compile();
    const out = await module
      .get(RandomMiddleware)
      .handle(context(['a', 'b', 'c'].map((n) => node(n))));
    // Fisher–Yates drawing index 0 each time: a b c → c b a → b c a
    expect(names(out)).toEqual(['b', 'c', 'a']);
  });

  describe.each(builtinInstances(BUILTIN_MIDDLEWARES).map((m) => [m.name, m] as const))(
    '%s',
    (_name, middleware) => {
      it('declares its settings and describes itself', () => {
        expect(middleware.settingsSchema).toMatchObject({
          type: 'object',
          additionalProperties: false,
        });
        expect(middleware.description.length).toBeGreaterThan(40);
      });

      it('takes no settings at all, and refuses one it does not know, naming it', async () => {
        expect(await settingsErrors(middleware, {})).toEqual([]);
        expect(await settingsErrors(middleware, { colour: 'blue' })).toEqual([
          { field: 'colour', reason: 'is not a known setting' },
        ]);
      });
    },
  );
});
