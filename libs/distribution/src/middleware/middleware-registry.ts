import { Inject, Injectable, Optional, type Type } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ConfigError } from '@protes/config';
import type { ValidateFunction } from 'ajv';
import { settingsValidator } from './chain-settings';
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

/** A registered middleware, with its settings schema compiled. */
export interface Registered {
  middleware: TaskMiddleware;
  validate?: ValidateFunction;
}

function compile(middleware: TaskMiddleware, from: string): Registered {
  const schema = middleware.settingsSchema;
  if (schema === undefined) return { middleware };
  try {
    return { middleware, validate: settingsValidator(schema) };
  } catch (error) {
    throw new ConfigError(
      `middleware "${middleware.name}" (from ${from}) has a settingsSchema that is not a valid JSON Schema: ${(error as Error).message}`,
    );
  }
}

/**
 * Every middleware a chain may name: the built-ins, and each provider of the configured middleware
 * modules (MIDDLEWARE_PLUGINS) that is a TaskMiddleware, found with Nest's DiscoveryService. Plugins
 * are recognised by shape, not by a decorator or a class of ours: a package built elsewhere cannot
 * share those. A name given twice, a module providing no middleware, or a `settingsSchema` that is
 * no valid JSON Schema stops the start. Each settings schema is compiled once, here.
 */
@Injectable()
export class MiddlewareRegistry {
  private collected?: Map<string, Registered>;

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(BUILTIN_MIDDLEWARE_INSTANCES) private readonly builtins: TaskMiddleware[],
    @Optional() @Inject(MIDDLEWARE_PLUGINS) private readonly plugins: Type[] = [],
  ) {}

  get(name: string): TaskMiddleware | undefined {
    return this.middlewares().get(name)?.middleware;
  }

  /** The middleware and its compiled settings validator (none when it declares no schema). */
  lookup(name: string): Registered | undefined {
    return this.middlewares().get(name);
  }

  /** The registered names, sorted. */
  names(): string[] {
    return [...this.middlewares().keys()].sort();
  }

  private middlewares(): Map<string, Registered> {
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
    this.collected = new Map(
      [...found].map(([name, { middleware, from }]) => [name, compile(middleware, from)]),
    );
    return this.collected;
  }
}
