import { protesConfig, type ProtesConfig } from '@protes/config';
import { type DynamicModule, Module, type OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ChainSettingsStore } from './chain-settings-store';
import { MongoChainSettingsStore } from './mongo-chain-settings-store';
import { MongoTaskStore } from './mongo-task-store';
import {
  PERSISTENCE_MODULE_OPTIONS,
  PersistenceConfigurableModule,
  type PersistenceModuleOptions,
} from './persistence.module-definition';
import { SqliteChainSettingsStore } from './sqlite-chain-settings-store';
import { SqliteTaskStore } from './sqlite-task-store';
import { TaskStore } from './task-store';
import { TaskStoreHealthIndicator } from './task-store.health';

function openTaskStore(options: PersistenceModuleOptions): TaskStore | Promise<TaskStore> {
  switch (options.driver) {
    case 'sqlite':
      return new SqliteTaskStore({ path: options.path, busyTimeoutMs: options.busyTimeoutMs });
    case 'mongo':
      return MongoTaskStore.connect(options.url);
  }
}

function openChainSettingsStore(
  options: PersistenceModuleOptions,
): ChainSettingsStore | Promise<ChainSettingsStore> {
  switch (options.driver) {
    case 'sqlite':
      return new SqliteChainSettingsStore(options);
    case 'mongo':
      return MongoChainSettingsStore.connect(options.url);
  }
}

/**
 * Provides the TaskStore (the abstract class is the DI token) for the configured driver, and its
 * health indicator, and the ChainSettingsStore of the same driver.
 * `forRoot(options)` / `forRootAsync({ useFactory, inject })`.
 */
@Module({
  imports: [TerminusModule],
  providers: [
    { provide: TaskStore, useFactory: openTaskStore, inject: [PERSISTENCE_MODULE_OPTIONS] },
    TaskStoreHealthIndicator,
    {
      provide: ChainSettingsStore,
      useFactory: openChainSettingsStore,
      inject: [PERSISTENCE_MODULE_OPTIONS],
    },
  ],
  exports: [TaskStore, TaskStoreHealthIndicator, ChainSettingsStore],
})
export class PersistenceModule
  extends PersistenceConfigurableModule
  implements OnApplicationShutdown
{
  constructor(
    private readonly store: TaskStore,
    private readonly chainSettings: ChainSettingsStore,
  ) {
    super();
  }

  /** The store the proTES configuration names (`store.driver` and its settings). */
  static fromConfig(): DynamicModule {
    return PersistenceModule.forRootAsync({
      inject: [protesConfig.KEY],
      useFactory: ({ store }: ProtesConfig): PersistenceModuleOptions =>
        store.driver === 'mongo'
          ? { driver: 'mongo', url: store.mongoUrl ?? '' }
          : { driver: 'sqlite', path: store.sqlitePath },
    });
  }

  // Not onModuleDestroy: other modules may still write in their own destroy and before-shutdown
  // hooks, which all run before any onApplicationShutdown.
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.store.close(), this.chainSettings.close()]);
  }
}
