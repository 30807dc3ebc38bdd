import type { ProtesConfig } from '@protes/config';
import {
  type DynamicModule,
  Module,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { TerminusModule } from '@nestjs/terminus';
import { ChainSettingsStore } from './chain-settings-store';
import { CHAIN_SETTINGS_MODEL, chainSettingsSchema } from './chain-settings.schema';
import { MongoChainSettingsStore } from './mongo-chain-settings-store';
import { mongooseOptions, PROTES_CONNECTION } from './mongo-connection';
import { MongoTaskStore } from './mongo-task-store';
import {
  PERSISTENCE_ASYNC_OPTIONS_TYPE,
  PERSISTENCE_MODULE_OPTIONS,
  PERSISTENCE_OPTIONS_TYPE,
  PersistenceConfigurableModule,
  type PersistenceModuleOptions,
} from './persistence.module-definition';
import { SqliteChainSettingsStore } from './sqlite-chain-settings-store';
import { SqliteTaskStore } from './sqlite-task-store';
import { TaskStore } from './task-store';
import { TaskStoreHealthIndicator } from './task-store.health';
import { TASK_MODEL, taskSchema } from './task.schema';

type Driver = PersistenceModuleOptions['driver'];

/**
 * forRootAsync's options: the factory gives the settings, but the driver must be known when the
 * module is built, because it decides which modules are imported.
 */
export type PersistenceModuleAsyncOptions = typeof PERSISTENCE_ASYNC_OPTIONS_TYPE & {
  driver: Driver;
};

/**
 * Holds the module's options, so that MongooseModule.forRootAsync, which builds the connection in
 * a module of its own, injects the same options as the stores.
 */
@Module({})
class PersistenceOptionsModule {}

/** The options, checked against the driver the module was built for. */
function optionsFor<D extends Driver>(driver: D) {
  return (options: PersistenceModuleOptions): Extract<PersistenceModuleOptions, { driver: D }> => {
    if (options.driver !== driver) {
      throw new Error(
        `PersistenceModule was built for the ${driver} store, but its options are for ${options.driver}`,
      );
    }
    return options as Extract<PersistenceModuleOptions, { driver: D }>;
  };
}

const sqliteOptions = optionsFor('sqlite');
const mongoOptions = optionsFor('mongo');

/** What a driver adds to the module: the imports it needs and the two stores. */
interface StoreDefinition {
  imports: NonNullable<DynamicModule['imports']>;
  providers: Provider[];
}

function sqliteStores(): StoreDefinition {
  return {
    imports: [],
    providers: [
      {
        provide: TaskStore,
        inject: [PERSISTENCE_MODULE_OPTIONS],
        useFactory: (options: PersistenceModuleOptions) => {
          const { path, busyTimeoutMs } = sqliteOptions(options);
          return new SqliteTaskStore({ path, busyTimeoutMs });
        },
      },
      {
        provide: ChainSettingsStore,
        inject: [PERSISTENCE_MODULE_OPTIONS],
        useFactory: (options: PersistenceModuleOptions) => {
          const { path, busyTimeoutMs } = sqliteOptions(options);
          return new SqliteChainSettingsStore({ path, busyTimeoutMs });
        },
      },
    ],
  };
}

/**
 * The connection is MongooseModule's (named PROTES_CONNECTION), the models are registered on it by
 * forFeature, and the stores receive them by injection.
 */
function mongoStores(options: DynamicModule): StoreDefinition {
  return {
    imports: [
      MongooseModule.forRootAsync({
        connectionName: PROTES_CONNECTION,
        imports: [options],
        inject: [PERSISTENCE_MODULE_OPTIONS],
        useFactory: (given: PersistenceModuleOptions) => mongooseOptions(mongoOptions(given)),
      }),
      MongooseModule.forFeature(
        [
          { name: TASK_MODEL, schema: taskSchema },
          { name: CHAIN_SETTINGS_MODEL, schema: chainSettingsSchema },
        ],
        PROTES_CONNECTION,
      ),
    ],
    providers: [
      { provide: TaskStore, useClass: MongoTaskStore },
      { provide: ChainSettingsStore, useClass: MongoChainSettingsStore },
    ],
  };
}

function storesFor(driver: Driver, options: DynamicModule): StoreDefinition {
  switch (driver) {
    case 'sqlite':
      return sqliteStores();
    case 'mongo':
      return mongoStores(options);
  }
}

/**
 * Provides the TaskStore (the abstract class is the DI token) for the configured driver, its
 * health indicator, and the ChainSettingsStore of the same driver. Only the configured driver's
 * modules are imported: with SQLite, MongooseModule is not part of the application at all.
 *
 * `forRoot(options)`, `forRootAsync({ driver, useFactory, inject })`, or `fromConfig(config.store)`.
 */
@Module({
  imports: [TerminusModule],
  providers: [TaskStoreHealthIndicator],
  exports: [TaskStore, TaskStoreHealthIndicator, ChainSettingsStore],
})
export class PersistenceModule implements OnApplicationShutdown {
  constructor(
    private readonly store: TaskStore,
    private readonly chainSettings: ChainSettingsStore,
  ) {}

  static forRoot(options: typeof PERSISTENCE_OPTIONS_TYPE): DynamicModule {
    return PersistenceModule.withStores(
      PersistenceConfigurableModule.forRoot(options),
      options.driver,
    );
  }

  static forRootAsync({ driver, ...options }: PersistenceModuleAsyncOptions): DynamicModule {
    return PersistenceModule.withStores(
      PersistenceConfigurableModule.forRootAsync(options),
      driver,
    );
  }

  /** The store the proTES configuration's `store` section names: `fromConfig(config.store)`. */
  static fromConfig(store: ProtesConfig['store']): DynamicModule {
    return PersistenceModule.forRoot(
      store.driver === 'mongo'
        ? { driver: 'mongo', url: store.mongoUrl ?? '' }
        : { driver: 'sqlite', path: store.sqlitePath },
    );
  }

  /**
   * ConfigurableModuleBuilder's definition gives the options provider (and the async factory's
   * imports), which go to PersistenceOptionsModule, and the global flag; the driver gives the rest.
   * The builder's class is not extended: its forRootAsync cannot require the driver.
   */
  private static withStores(definition: DynamicModule, driver: Driver): DynamicModule {
    const options: DynamicModule = {
      module: PersistenceOptionsModule,
      imports: definition.imports,
      providers: definition.providers,
      exports: [PERSISTENCE_MODULE_OPTIONS],
    };
    const stores = storesFor(driver, options);
    return {
      module: PersistenceModule,
      global: definition.global,
      imports: [options, ...stores.imports],
      providers: stores.providers,
    };
  }

  // Not onModuleDestroy: other modules may still write in their own destroy and before-shutdown
  // hooks, which all run before any onApplicationShutdown. The Mongo stores' close() does nothing:
  // MongooseModule closes their connection in its own onApplicationShutdown, so it is closed once,
  // and as late as the SQLite files.
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.store.close(), this.chainSettings.close()]);
  }
}
