import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { LifecycleModule } from '@protes/core';
import { ForwardingService } from './forwarding.service';
import { MiddlewareModule } from './middleware/middleware.module';
import { NodeRegistry } from './node-registry';

/**
 * The node registry, the middleware chain and forwarding (and the task lifecycle they report to). Static, so that every module importing it
 * (the gateway's, the tracker's) shares one registry; custom middleware modules are imported by
 * the application with MiddlewarePluginsModule.forRoot.
 */
@Module({
  imports: [HttpModule, MiddlewareModule, LifecycleModule],
  providers: [NodeRegistry, ForwardingService],
  exports: [NodeRegistry, ForwardingService, MiddlewareModule, LifecycleModule],
})
export class DistributionModule {}
