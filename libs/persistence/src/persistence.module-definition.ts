import { ConfigurableModuleBuilder } from '@nestjs/common';

export type PersistenceModuleOptions =
  { driver: 'sqlite'; path: string; busyTimeoutMs?: number } | { driver: 'mongo'; url: string };

export const {
  ConfigurableModuleClass: PersistenceConfigurableModule,
  MODULE_OPTIONS_TOKEN: PERSISTENCE_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<PersistenceModuleOptions>()
  .setClassMethodName('forRoot')
  // Global by default: an app has one store, and feature modules that import
  // PersistenceModule.forRoot themselves would each open another one.
  .setExtras({ isGlobal: true }, (definition, { isGlobal }) => ({
    ...definition,
    global: isGlobal,
  }))
  .build();
