import { Inject, Injectable, Optional, type Type } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ConfigError } from '@protes/config';
import { MIDDLEWARE_PLUGINS } from './custom-modules';
import type { TaskMiddleware } from './middleware';

/** The built-in middlewares, as instances (a DI token). */
export const BUILTIN_MIDDLEWARE_INSTANCES = Symbol('BUILTIN_MIDDLEWARE_INSTANCES');

/** What makes a provider a middleware: a non-empty `name` and a `handle` method. */
export const isTaskMiddleware = (value: unknown): value is TaskMiddleware =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as TaskMiddleware).name === 'string' &&
  (value as TaskMiddleware).name !== '' &&
  typeof (value as TaskMiddleware).handle === 'function';

/**
 * Every middleware a chain may name: the built-ins, and each provider of the configured middleware
 * modules (MIDDLEWARE_PLUGINS) that is a TaskMiddleware, found with Nest's DiscoveryService. Plugins
 * are recognised by shape, not by a decorator or a class of ours: a package built elsewhere cannot
 * share those. A name given twice, or a module providing no middleware, stops the start.
 */
@Injectable()
export class MiddlewareRegistry {
  private collected?: Map<string, TaskMiddleware>;

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(BUILTIN_MIDDLEWARE_INSTANCES) private readonly builtins: TaskMiddleware[],
    @Optional() @Inject(MIDDLEWARE_PLUGINS) private readonly plugins: Type[] = [],
  ) {}

  get(name: string): TaskMiddleware | undefined {
    return this.middlewares().get(name);
  }

  /** The registered names, sorted. */
  names(): string[] {
    return [...this.middlewares().keys()].sort();
  }

  private middlewares(): Map<string, TaskMiddleware> {
    if (this.collected) return this.collected;
    const found = new Map<string, { middleware: TaskMiddleware; from: string }>();
    const add = (middleware: TaskMiddleware, from: string) => {
      const other = found.get(middleware.name)?.from;
      if (other) {
        throw new ConfigError(
          `middleware "${middleware.name}" is registered twice: by ${other} and by ${from}`,
        );
      }
      found.set(middleware.name, { middleware, from });
    };
    for (const builtin of this.builtins) add(builtin, 'the built-ins');
    for (const module of this.plugins) {
      const provided = this.discovery
        .getProviders({ include: [module] })
        .map((wrapper) => wrapper.instance as unknown)
        .filter(isTaskMiddleware);
      if (provided.length === 0) {
        throw new ConfigError(
          `middleware module ${module.name} provides no middleware (a provider with a string name and a handle method)`,
        );
      }
      for (const middleware of provided) add(middleware, `module ${module.name}`);
    }
    this.collected = new Map([...found].map(([name, { middleware }]) => [name, middleware]));
    return this.collected;
  }
}
