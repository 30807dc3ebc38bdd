export * from './task-record';
export * from './task-store';
export * from './task-updates';
export * from './sqlite-task-store';
export { MongoTaskStore } from './mongo-task-store';
export { PersistenceModule } from './persistence.module';
export type { PersistenceModuleOptions } from './persistence.module-definition';
export * from './task-store.health';
