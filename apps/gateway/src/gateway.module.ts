import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { loadConfig, ProtesConfigModule, type ProtesConfig } from '@protes/config';
import {
  DistributionModule,
  MiddlewarePluginsModule,
  TaskObserverModule,
} from '@protes/distribution';
import { PersistenceModule, TaskStoreHealthIndicator } from '@protes/persistence';
import { HealthController, readinessIndicators } from '@protes/server';
import { TrackerMetrics, TrackingModule } from '@protes/tracking';
import { GatewayAuthModule } from './auth/gateway-auth.module';
import { TesExceptionFilter } from './common/tes-exception.filter';
import { DocsController } from './docs/docs.controller';
import { GatewayBusHealthIndicator } from './health/bus.health';
import { NodesHealthIndicator } from './health/nodes.health';
import { NodeMetrics } from './metrics/node-metrics';
import { MiddlewaresController } from './middlewares/middlewares.controller';
import { NodesController } from './nodes/nodes.controller';
import { ServiceInfoController } from './service-info/service-info.controller';
import { StatusPageController } from './status-page/status-page.controller';
import { TasksController } from './tasks/tasks.controller';
import { TasksService } from './tasks/tasks.service';

@Module({})
export class GatewayModule {
  /**
   * With the in-process bus (standalone mode) the tracker runs in this process; with RabbitMQ
   * (distributed mode) the gateway only publishes task events and tracker processes follow the
   * tasks. The configuration is read here, once, because it decides which modules exist.
   */
  static forRoot(config: ProtesConfig = loadConfig()): DynamicModule {
    const runTracker = config.bus.driver === 'in-process';
    return {
      module: GatewayModule,
      imports: [
        ProtesConfigModule.forRoot(config),
        PersistenceModule.fromConfig(config.store),
        DistributionModule,
        TaskObserverModule,
        MiddlewarePluginsModule.forRoot(config.middleware.modules),
        TrackingModule.forRoot({ runTracker }),
        TerminusModule,
        GatewayAuthModule.forRoot(config.auth),
      ],
      controllers: [
        TasksController,
        ServiceInfoController,
        HealthController,
        DocsController,
        MiddlewaresController,
        NodesController,
        StatusPageController,
      ],
      providers: [
        TasksService,
        NodeMetrics,
        ...(runTracker ? [TrackerMetrics] : []),
        { provide: APP_FILTER, useClass: TesExceptionFilter },
        // Ready: the store writes, the bus is connected (distributed mode), some node takes tasks.
        ...readinessIndicators([
          TaskStoreHealthIndicator,
          GatewayBusHealthIndicator,
          NodesHealthIndicator,
        ]),
      ],
    };
  }
}
