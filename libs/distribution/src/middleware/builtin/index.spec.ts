import { Test } from '@nestjs/testing';
import { readdirSync } from 'node:fs';
import type { TaskMiddleware } from '../middleware';
import { BUILTIN_MIDDLEWARES, RANDOM_SOURCE, RandomMiddleware } from './index';
import { context, names, node } from './testing/fixtures';

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
});
