import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConfigError, loadConfig, ProtesConfigModule } from '@protes/config';
import { PersistenceModule } from '@protes/persistence';
import { join } from 'node:path';
import { ChainService } from './chain.service';
import { loadMiddlewareModules, MiddlewarePluginsModule } from './custom-modules';
import type { TaskContext } from './middleware';
import { MiddlewareModule } from './middleware.module';
import { MiddlewareRegistry } from './middleware-registry';

const EXAMPLE = './examples/protes-middleware-example/src';
const ROOT = join(__dirname, '../../../..');

@Injectable()
class TeamMiddleware {
  readonly name: string = 'team';
  handle(context: TaskContext): Promise<TaskContext> {
    return Promise.resolve(context);
  }
}

@Injectable()
class NotAMiddleware {
  readonly name = 'helper';
}

@Module({ providers: [TeamMiddleware, NotAMiddleware] })
class TeamModule {}

@Injectable()
class FakeRandom extends TeamMiddleware {
  override readonly name = 'random';
}

@Module({ providers: [FakeRandom] })
class ClashingModule {}

@Module({ providers: [NotAMiddleware] })
class EmptyModule {}

@Injectable()
class SchemaMiddleware extends TeamMiddleware {
  override readonly name = 'with-schema';
  readonly settingsSchema = {
    type: 'object',
    properties: { tag: { type: 'string', minLength: 1 } },
    required: ['tag'],
    additionalProperties: false,
  };
}

@Module({ providers: [SchemaMiddleware] })
class SchemaModule {}

@Injectable()
class BadSchemaMiddleware extends TeamMiddleware {
  override readonly name = 'bad-schema';
  readonly settingsSchema = { type: 'nonsense' };
}

@Module({ providers: [BadSchemaMiddleware] })
class BadSchemaModule {}

jest.mock('team-plugin', () => ({ default: TeamModule }), { virtual: true });
jest.mock('named-plugin', () => ({ ProtesMiddlewareModule: TeamModule }), { virtual: true });
jest.mock('clashing-plugin', () => ({ default: ClashingModule }), { virtual: true });
jest.mock('empty-plugin', () => ({ default: EmptyModule }), { virtual: true });
jest.mock('class-plugin', () => ({ default: TeamMiddleware }), { virtual: true });
jest.mock('schema-plugin', () => ({ default: SchemaModule }), { virtual: true });
jest.mock('bad-schema-plugin', () => ({ default: BadSchemaModule }), { virtual: true });

/** The error a promise rejects with or a function throws (failing the test if neither). */
async function configError(run: () => unknown): Promise<ConfigError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** Starts the middleware part of an application with these modules and this chain. */
async function start(modules: string[], chain: unknown[] = ['random']) {
  const config = loadConfig({
    PROTES_MIDDLEWARE__MODULES: JSON.stringify(modules),
    PROTES_MIDDLEWARE__CHAIN: JSON.stringify(chain),
  });
  const app = await Test.createTestingModule({
    imports: [
      ProtesConfigModule.forRoot(config),
      PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' }),
      MiddlewarePluginsModule.forRoot(config.middleware.modules, ROOT),
      MiddlewareModule,
    ],
  }).compile();
  await app.init();
  return app;
}

describe('loadMiddlewareModules', () => {
  it('loads a module class from a path, relative to the working directory', () => {
    const [module] = loadMiddlewareModules([EXAMPLE], ROOT);
    expect(module.name).toBe('ProtesMiddlewareModule');
  });

  it('takes the default export, or else the named export ProtesMiddlewareModule', () => {
    expect(loadMiddlewareModules(['team-plugin', 'named-plugin'], ROOT)).toEqual([
      TeamModule,
      TeamModule,
    ]);
  });

  it.each([
    [
      './no/such/module.js',
      /cannot load "\.\/no\/such\/module\.js" \(from .+\): Cannot find module/,
    ],
    ['no-such-package-for-protes', /cannot load "no-such-package-for-protes"/],
    ['./libs/distribution/src/circuit-breaker', /exports no Nest module class/],
    ['class-plugin', /exports no Nest module class/],
  ])('stops the start on %s, naming it', async (spec, message) => {
    const error = await configError(() => loadMiddlewareModules([spec], ROOT));
    expect(error.message).toMatch(/^middleware\.modules: /);
    expect(error.message).toMatch(message);
  });
});

describe('MiddlewareRegistry', () => {
  it('registers the built-ins and the middleware providers of configured modules', async () => {
    const app = await start([EXAMPLE, 'team-plugin']);
    const names = app.get(MiddlewareRegistry).names();
    expect(names).toEqual(
      expect.arrayContaining([
        'random',
        'least-loaded',
        'prefer-tagged-node',
        'reject-large-tasks',
        'team',
      ]),
    );
    expect(names).not.toContain('helper');
    expect(app.get(MiddlewareRegistry).get('team')).toBeInstanceOf(TeamMiddleware);
    await app.close();
  });

  it('lets the chain name a plugin middleware', async () => {
    const app = await start(['team-plugin'], ['team', 'random']);
    expect(
      (await app.get(ChainService).describe()).chain.map((e) => (e as { name: string }).name),
    ).toEqual(['team', 'random']);
    await app.close();
  });

  it('stops the start on a chain naming a middleware that is not registered, listing the known names', async () => {
    const error = await configError(() => start(['team-plugin'], ['random', 'teams']));
    expect(error.message).toMatch(
      /^middleware\.chain\[1\]: "teams" is not a registered middleware \(registered: .*\brandom\b.*\bteam\b/,
    );
  });

  it('stops the start on two middlewares of the same name', async () => {
    const error = await configError(() => start(['clashing-plugin']));
    expect(error.message).toBe(
      'middleware "random" is registered twice: by the built-ins and by module ClashingModule',
    );
  });

  it('stops the start on a module that provides no middleware', async () => {
    const error = await configError(() => start(['empty-plugin']));
    expect(error.message).toMatch(/module EmptyModule provides no middleware/);
  });

  it("checks a plugin middleware's settings against the schema it declares", async () => {
    const error = await configError(() =>
      start(['schema-plugin'], [{ name: 'with-schema', settings: { tag: '', other: 1 } }]),
    );
    expect(error.message).toBe(
      'middleware.chain[0].settings.other: is not a known setting; middleware.chain[0].settings.tag: must NOT have fewer than 1 characters',
    );
    const app = await start(['schema-plugin'], [{ name: 'with-schema', settings: { tag: 'gpu' } }]);
    expect(app.get(MiddlewareRegistry).lookup('with-schema')?.validate).toBeInstanceOf(Function);
    await app.close();
  });

  it('stops the start on a settings schema that is not a valid JSON Schema', async () => {
    const error = await configError(() => start(['bad-schema-plugin']));
    expect(error.message).toMatch(
      /^middleware "bad-schema" \(from module BadSchemaModule\) has a settingsSchema that is not a valid JSON Schema: /,
    );
  });

  it('has only the built-ins without configured modules', async () => {
    const app = await start([]);
    expect(app.get(MiddlewareRegistry).names()).not.toContain('team');
    await app.close();
  });
});
