import { Module } from '@nestjs/common';
import { PreferTaggedNodeMiddleware } from './prefer-tagged-node.middleware';
import { RejectLargeTasksMiddleware } from './reject-large-tasks.middleware';

/**
 * The plugin: proTES requires this package at start (`middleware.modules`), imports this module,
 * and registers each of its providers that has a `name` and a `handle` method under that name.
 */
@Module({ providers: [PreferTaggedNodeMiddleware, RejectLargeTasksMiddleware] })
export class ProtesMiddlewareModule {}

export { PreferTaggedNodeMiddleware, RejectLargeTasksMiddleware };
