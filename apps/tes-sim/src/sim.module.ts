import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { SIM_CONFIG, type SimConfig } from './sim-config';
import { SimControlController } from './sim-control.controller';
import { SimExceptionFilter } from './sim-exception.filter';
import { SimOutageService } from './sim-outage.service';
import { SimServiceInfoController } from './sim-service-info.controller';
import { SimStatsService } from './sim-stats.service';
import { SimTasksController } from './sim-tasks.controller';
import { SimTasksService } from './sim-tasks.service';
import { SimTrafficInterceptor } from './sim-traffic.interceptor';

/** One simulated TES node. The configuration is already checked (see `resolveSimConfig`). */
@Module({})
export class SimModule {
  static forRoot(config: SimConfig): DynamicModule {
    return {
      module: SimModule,
      controllers: [SimServiceInfoController, SimTasksController, SimControlController],
      providers: [
        { provide: SIM_CONFIG, useValue: config },
        SimTasksService,
        SimStatsService,
        SimOutageService,
        { provide: APP_FILTER, useClass: SimExceptionFilter },
        { provide: APP_INTERCEPTOR, useClass: SimTrafficInterceptor },
      ],
    };
  }
}
