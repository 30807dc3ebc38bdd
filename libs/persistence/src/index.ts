export * from './task-record';
export * from './task-store';
export * from './task-updates';
export * from './sqlite-task-store';
export { MongoTaskStore } from './mongo-task-store';
export { PersistenceModule } from './persistence.module';
export type { PersistenceModuleAsyncOptions } from './persistence.module';
export type {
  MongoStoreOptions,
  PersistenceModuleOptions,
  SqliteStoreOptions,
} from './persistence.module-definition';
export * from './task-store.health';
export * from './chain-settings-store';
export { SqliteChainSettingsStore } from './sqlite-chain-settings-store';
export { MongoChainSettingsStore } from './mongo-chain-settings-store';
