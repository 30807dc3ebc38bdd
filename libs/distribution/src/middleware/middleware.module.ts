import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BUILTIN_MIDDLEWARES } from './builtin';
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
