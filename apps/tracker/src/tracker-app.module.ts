import { type DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { loadConfig, protesConfig, ProtesConfigModule, type ProtesConfig } from '@protes/config';
import { MiddlewarePluginsModule, TaskObserverModule } from '@protes/distribution';
import { PersistenceModule, TaskStoreHealthIndicator } from '@protes/persistence';
import { HealthController, readinessIndicators } from '@protes/server';
import { TrackerMetrics, TrackingModule } from '@protes/tracking';
import { BusHealthIndicator } from './health/bus.health';
import { TaskEventServer } from './task-event.server';
import { TaskEventsController } from './task-events.controller';

/** The tracker process of distributed mode: the tracker, fed by the RabbitMQ queue, and health. */
@Module({})
export class TrackerAppModule {
  static forRoot(config: ProtesConfig = loadConfig()): DynamicModule {
    return {
      module: TrackerAppModule,
      imports: [
        ProtesConfigModule.forRoot(config),
        PersistenceModule.fromConfig(config.store),
        // Resubmissions run the middleware chain, which may name custom middlewares.
        MiddlewarePluginsModule.forRoot(config.middleware.modules),
        TrackingModule.forRoot({ runTracker: true }),
        TaskObserverModule,
        TerminusModule,
      ],
      controllers: [TaskEventsController, HealthController],
      providers: [
        {
          provide: TaskEventServer,
          inject: [protesConfig.KEY],
          useFactory: ({ bus }: ProtesConfig) => TaskEventServer.fromConfig(bus),
        },
        TrackerMetrics,
        // Ready: the store answers and the task-event queue is consumed.
        ...readinessIndicators([TaskStoreHealthIndicator, BusHealthIndicator]),
      ],
    };
  }
}
