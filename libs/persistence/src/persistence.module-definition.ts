import { ConfigurableModuleBuilder } from '@nestjs/common';

export interface SqliteStoreOptions {
  driver: 'sqlite';
  path: string;
  busyTimeoutMs?: number;
}

export interface MongoStoreOptions {
  driver: 'mongo';
  url: string;
  /** The database, when not the one the URL names (the contract tests give each test its own). */
  dbName?: string;
  /**
   * How long the driver looks for a server, at start-up and for each operation later, before it
   * gives up; 10 s by default.
   */
  serverSelectionTimeoutMS?: number;
}

export type PersistenceModuleOptions = SqliteStoreOptions | MongoStoreOptions;

export const {
  ConfigurableModuleClass: PersistenceConfigurableModule,
  MODULE_OPTIONS_TOKEN: PERSISTENCE_MODULE_OPTIONS,
  OPTIONS_TYPE: PERSISTENCE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: PERSISTENCE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<PersistenceModuleOptions>()
  .setClassMethodName('forRoot')
  // Global by default: an app has one store, and feature modules that import
  // PersistenceModule.forRoot themselves would each open another one.
  .setExtras({ isGlobal: true }, (definition, { isGlobal }) => ({
    ...definition,
    global: isGlobal,
  }))
  .build();
