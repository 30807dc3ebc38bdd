import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AuthConfig } from '@protes/config';

export const {
  ConfigurableModuleClass: AuthConfigurableModule,
  MODULE_OPTIONS_TOKEN: AUTH_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<AuthConfig>().setClassMethodName('forRoot').build();

/** The checked settings (AuthSettings) made from the options. */
export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');
