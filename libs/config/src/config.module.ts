import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, registerAs } from '@nestjs/config';
import { loadConfig } from './config.loader';
import type { ProtesConfig } from './config.schema';

/** The validated configuration, injected with `@Inject(protesConfig.KEY)`. */
export const protesConfig = registerAs('protes', (): ProtesConfig => loadConfig());

@Module({})
export class ProtesConfigModule {
  /** Loads from PROTES_CONFIG and the environment, or takes a ready configuration (tests, tools). */
  static forRoot(config?: ProtesConfig): DynamicModule {
    return {
      module: ProtesConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          load: [config ? registerAs('protes', () => config) : protesConfig],
        }),
      ],
      exports: [ConfigModule],
    };
  }
}
