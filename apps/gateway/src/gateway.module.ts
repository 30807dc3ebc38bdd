import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { protesConfig, ProtesConfigModule, type ProtesConfig } from '@protes/config';
import { DistributionModule } from '@protes/distribution';
import { PersistenceModule } from '@protes/persistence';
import { TrackingModule } from '@protes/tracking';
import { TesExceptionFilter } from './common/tes-exception.filter';
import { DocsController } from './docs/docs.controller';
import { HealthController } from './health/health.controller';
import { ServiceInfoController } from './service-info/service-info.controller';
import { TasksController } from './tasks/tasks.controller';
import { TasksService } from './tasks/tasks.service';

@Module({})
export class GatewayModule {
  /** Standalone mode: the tracker runs in this process, on the in-process event bus. */
  static forRoot(config?: ProtesConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        ProtesConfigModule.forRoot(config),
        PersistenceModule.forRootAsync({
          inject: [protesConfig.KEY],
          useFactory: ({ store }: ProtesConfig) =>
            store.driver === 'mongo'
              ? { driver: 'mongo' as const, url: store.mongoUrl ?? '' }
              : { driver: 'sqlite' as const, path: store.sqlitePath },
        }),
        DistributionModule,
        TrackingModule,
        TerminusModule,
      ],
      controllers: [TasksController, ServiceInfoController, HealthController, DocsController],
      providers: [TasksService, { provide: APP_FILTER, useClass: TesExceptionFilter }],
    };
  }
}
