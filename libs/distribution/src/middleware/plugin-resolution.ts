import { existsSync } from 'node:fs';
import Module from 'node:module';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';

/*
 * One copy of Nest in the process, whatever a plugin brings.
 *
 * Nest finds providers, modules and injection tokens by identity: a plugin whose `@Injectable()`
 * or `@Module()` comes from a second copy of @nestjs/common writes metadata the gateway's Nest
 * does not read, and its injection fails. A plugin installed with its own node_modules (npm puts
 * peer dependencies there) would get such a copy; one installed without would find no Nest at all
 * outside the gateway's folder. So when a module of a plugin asks for a shared package, it gets the
 * gateway's, resolved as the gateway resolves it; every other package is resolved as Node would.
 *
 * This hooks Node's CommonJS resolution (Module._resolveFilename, the hook module aliasing and
 * tsconfig-paths rely on as well; Node 20 has no public synchronous one) and is limited to the
 * shared packages asked for from inside a plugin's folders. An ES-module plugin is not covered:
 * plugins are CommonJS (docs/writing-a-middleware.md).
 */

/** Shared whenever the gateway has them: every package of the @nestjs scope, and these. */
export const SHARED_PACKAGES: readonly string[] = [
  '@nestjs/*',
  '@protes/middleware-sdk',
  'reflect-metadata',
  'rxjs',
];

/** The package a bare request names (`@nestjs/common/x` → `@nestjs/common`); else undefined. */
export function packageOf(request: string): string | undefined {
  if (request.startsWith('.') || isAbsolute(request) || request.startsWith('node:')) {
    return undefined;
  }
  const parts = request.split('/');
  return request.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

export function isShared(name: string): boolean {
  return SHARED_PACKAGES.some((shared) =>
    shared.endsWith('/*') ? name.startsWith(shared.slice(0, -1)) : name === shared,
  );
}

const isInside = (file: string, dir: string): boolean => {
  const path = relative(dir, file);
  return path !== '' && !path.startsWith('..') && !isAbsolute(path);
};

/** The nearest folder at or above `dir` with a package.json; `dir` itself when there is none. */
function packageRoot(dir: string): string {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'package.json'))) return at;
    if (dirname(at) === at) return dir;
  }
}

/**
 * The folders whose modules count as the plugin's: its package folder, and, when it is installed
 * in a node_modules folder, the folder that node_modules belongs to (a plugins directory: the
 * plugin's own dependencies are installed beside it) — less a folder that holds the gateway, whose
 * own packages keep their own resolution.
 */
export function pluginScopes(entryFile: string, gatewayFile: string): string[] {
  const root = packageRoot(dirname(entryFile));
  const marker = `${sep}node_modules${sep}`;
  const at = `${root}${sep}`.indexOf(marker);
  const installRoot = at > 0 ? root.slice(0, at) : undefined;
  return [root, installRoot].filter(
    (scope): scope is string => scope !== undefined && !isInside(gatewayFile, scope),
  );
}

type ResolveFilename = (
  request: string,
  parent: { filename?: string | null } | null | undefined,
  isMain?: boolean,
  options?: unknown,
) => string;

/** The part of Node's `Module` this hooks into (internal, stable since Node 0.x). */
export interface ModuleResolution {
  _resolveFilename: ResolveFilename;
}

/**
 * Which file a plugin's request for a shared package gets: the gateway's. Plugins are added as they
 * are loaded; the hook is installed into Node's resolution with the first.
 */
export class PluginResolution {
  private readonly scopes: string[] = [];
  private installed = false;
  /** Set while the gateway's own resolution runs (it goes through the hook too). */
  private resolving = false;

  /**
   * @param gatewayFile a file of the gateway, from which its packages are resolved
   * @param fromGateway resolves a request as the gateway's own `require` would
   */
  constructor(
    private readonly gatewayFile: string,
    private readonly fromGateway: (request: string) => string,
  ) {}

  /** Counts the plugin whose entry point is `entryFile` (as resolved: a real path). */
  addPlugin(entryFile: string): void {
    for (const scope of pluginScopes(entryFile, this.gatewayFile)) {
      if (!this.scopes.includes(scope)) this.scopes.push(scope);
    }
  }

  /**
   * The gateway's file for `request` when a module of a plugin (`parentFile`) asks for a shared
   * package the gateway has; undefined when Node's own resolution applies.
   */
  redirect(request: string, parentFile: string | null | undefined): string | undefined {
    const name = packageOf(request);
    if (!name || !parentFile || this.resolving || !isShared(name)) return undefined;
    if (!this.scopes.some((scope) => isInside(parentFile, scope))) return undefined;
    this.resolving = true;
    try {
      return this.fromGateway(request);
    } catch {
      return undefined; // the gateway has no such package: the plugin's own, if it has one
    } finally {
      this.resolving = false;
    }
  }

  /** Hooks `redirect` into `modules`' resolution (Node's Module by default), once. */
  install(modules: ModuleResolution = Module as unknown as ModuleResolution): void {
    if (this.installed || typeof modules._resolveFilename !== 'function') return;
    const original = modules._resolveFilename;
    const redirect = (request: string, parentFile: string | null | undefined) =>
      this.redirect(request, parentFile);
    modules._resolveFilename = function (this: unknown, request, parent, isMain, options) {
      return (
        redirect(request, parent?.filename) ?? original.call(this, request, parent, isMain, options)
      );
    };
    this.installed = true;
  }
}
