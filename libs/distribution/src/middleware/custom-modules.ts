import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { ConfigError } from '@protes/config';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PluginResolution } from './plugin-resolution';
import { MiddlewareSdkModule } from './sdk-ports.module';

/** The Nest module classes named in `middleware.modules`, as loaded (a DI token). */
export const MIDDLEWARE_PLUGINS = Symbol('MIDDLEWARE_PLUGINS');

/** The export a plugin's module class is read from when it has no default export. */
export const PLUGIN_EXPORT = 'ProtesMiddlewareModule';

/** How plugins' modules find the packages they share with the gateway (see plugin-resolution.ts). */
const gatewayRequire = createRequire(__filename);
const resolution = new PluginResolution(__filename, (request) => gatewayRequire.resolve(request));

/** The file `spec` resolves to; undefined when it does not (requiring it then says why). */
function entryOf(load: NodeJS.Require, spec: string): string | undefined {
  try {
    return load.resolve(spec);
  } catch {
    return undefined;
  }
}

const isNestModule = (value: unknown): value is Type =>
  typeof value === 'function' && Array.isArray(Reflect.getMetadata('providers', value));

/**
 * Requires each entry of `middleware.modules` (a package name, or a path starting with `.` or `/`),
 * resolved as `require` would from `cwd`, and returns its Nest module class: the default export, or
 * the named export `ProtesMiddlewareModule`. Anything else stops the start with a ConfigError
 * naming the entry. What the plugin requires of the packages it shares with the gateway (Nest,
 * reflect-metadata, rxjs, the SDK) is the gateway's copy, wherever the plugin is installed.
 */
export function loadMiddlewareModules(specs: readonly string[], cwd = process.cwd()): Type[] {
  const load = createRequire(join(cwd, 'noop.js'));
  return specs.map((spec) => {
    let exported: Record<string, unknown>;
    try {
      const entry = entryOf(load, spec);
      if (entry !== undefined) resolution.addPlugin(entry);
      resolution.install();
      exported = load(spec) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(
        `middleware.modules: cannot load "${spec}" (from ${cwd}): ${(error as Error).message}`,
      );
    }
    const module = exported.default ?? exported[PLUGIN_EXPORT];
    if (!isNestModule(module)) {
      throw new ConfigError(
        `middleware.modules: "${spec}" exports no Nest module class (with providers) as its default export or as ${PLUGIN_EXPORT}`,
      );
    }
    return module;
  });
}

/**
 * Imports the configured middleware modules into the application, with what they may inject (the
 * SDK's tokens, MiddlewareSdkModule). Global, so that the middleware registry (wherever it is)
 * finds the list of them under MIDDLEWARE_PLUGINS.
 */
@Module({})
export class MiddlewarePluginsModule {
  static forRoot(specs: readonly string[], cwd?: string): DynamicModule {
    const modules = loadMiddlewareModules(specs, cwd);
    return {
      module: MiddlewarePluginsModule,
      global: true,
      imports: [MiddlewareSdkModule, ...modules],
      providers: [{ provide: MIDDLEWARE_PLUGINS, useValue: modules }],
      exports: [MIDDLEWARE_PLUGINS],
    };
  }
}
