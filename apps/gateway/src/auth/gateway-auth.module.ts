import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthModule, ProtesAuthGuard } from '@protes/auth';
import type { AuthConfig } from '@protes/config';
import { markPublicControllers } from './public-routes';

/** Authentication for the gateway: `auth` of the configuration, one global guard. */
@Module({})
export class GatewayAuthModule {
  static forRoot(config: AuthConfig): DynamicModule {
    markPublicControllers();
    return {
      module: GatewayAuthModule,
      imports: [AuthModule.forRoot(config)],
      providers: [{ provide: APP_GUARD, useExisting: ProtesAuthGuard }],
    };
  }
}
