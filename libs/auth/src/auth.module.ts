import { Module } from '@nestjs/common';
import type { AuthConfig } from '@protes/config';
import { Authenticator } from './authenticator';
import {
  AUTH_MODULE_OPTIONS,
  AUTH_SETTINGS,
  AuthConfigurableModule,
} from './auth.module-definition';
import { authSettings } from './auth-settings';
import { ProtesAuthGuard } from './auth.guard';

/**
 * Authentication and the guard that applies it: `AuthModule.forRoot(config.auth)`. The importing
 * app registers ProtesAuthGuard as its APP_GUARD (and says which routes are public).
 */
@Module({
  providers: [
    {
      provide: AUTH_SETTINGS,
      useFactory: (config: AuthConfig) => authSettings(config),
      inject: [AUTH_MODULE_OPTIONS],
    },
    Authenticator,
    ProtesAuthGuard,
  ],
  exports: [AUTH_SETTINGS, Authenticator, ProtesAuthGuard],
})
export class AuthModule extends AuthConfigurableModule {}
