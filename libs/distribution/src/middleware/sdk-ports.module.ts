import { Global, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { protesConfig, type ProtesConfig } from '@protes/config';
import { HTTP_CLIENT, NODE_DIRECTORY, NODE_LOAD, PROTES_CONFIG } from '@protes/middleware-sdk';
import { axiosHttpClient, pluginConfig, registryDirectory, registryLoad } from './sdk-ports';

/**
 * What a plugin may inject, under the tokens of @protes/middleware-sdk. Global, because a plugin's
 * module is imported as it is (MiddlewarePluginsModule) and cannot import this one; the tokens are
 * registered symbols, so a plugin holding its own copy of the SDK still names them.
 */
@Global()
@Module({
  providers: [
    {
      provide: PROTES_CONFIG,
      useFactory: (config: ProtesConfig) => pluginConfig(config),
      inject: [protesConfig.KEY],
    },
    { provide: NODE_DIRECTORY, useFactory: registryDirectory, inject: [ModuleRef] },
    { provide: NODE_LOAD, useFactory: registryLoad, inject: [ModuleRef] },
    {
      provide: HTTP_CLIENT,
      useFactory: (config: ProtesConfig) => axiosHttpClient(config.forwarding.timeoutMs),
      inject: [protesConfig.KEY],
    },
  ],
  exports: [PROTES_CONFIG, NODE_DIRECTORY, NODE_LOAD, HTTP_CLIENT],
})
export class MiddlewareSdkModule {}
