import { Module } from '@nestjs/common';
import { TaskLifecycle } from './task-lifecycle';

/**
 * The task lifecycle, one instance for every module that writes task state (forwarding, tracking,
 * the API). It needs the TaskStore, which the global PersistenceModule provides.
 */
@Module({ providers: [TaskLifecycle], exports: [TaskLifecycle] })
export class LifecycleModule {}
