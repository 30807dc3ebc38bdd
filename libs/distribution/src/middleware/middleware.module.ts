import { Module } from '@nestjs/common';
import { DiscoveryModule, ModuleRef } from '@nestjs/core';
import { protesConfig, type ProtesConfig } from '@protes/config';
import { BUILTIN_MIDDLEWARES, NODE_AVAILABILITY, registryAvailability } from './builtin';
import { ChainService } from './chain.service';
import { BUILTIN_MIDDLEWARE_INSTANCES, MiddlewareRegistry } from './middleware-registry';

/**
 * The middleware registry and the chain. Built-ins are providers here, handed to the registry as
 * one list; custom middlewares come from the modules MiddlewarePluginsModule imports.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    ...BUILTIN_MIDDLEWARES,
    {
      // What client-preference knows of nodes that are no candidates (down, or filtered out).
      provide: NODE_AVAILABILITY,
      useFactory: (moduleRef: ModuleRef, config: ProtesConfig) =>
        registryAvailability(moduleRef, config.forwarding.timeoutMs),
      inject: [ModuleRef, protesConfig.KEY],
    },
    {
      provide: BUILTIN_MIDDLEWARE_INSTANCES,
      useFactory: (...middlewares: unknown[]) => middlewares,
      inject: [...BUILTIN_MIDDLEWARES],
    },
    MiddlewareRegistry,
    ChainService,
  ],
  exports: [MiddlewareRegistry, ChainService],
})
export class MiddlewareModule {}
