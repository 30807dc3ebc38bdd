import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { protesConfig, type ProtesConfig } from '@protes/config';
import { DistributionModule } from '@protes/distribution';
import { RmqTaskEventBus } from './rmq-task-event-bus';
import { InProcessTaskEventBus, TaskEventBus } from './task-events';
import { TrackerService } from './tracker.service';

export interface TrackingModuleOptions {
  /**
   * Whether this process follows tasks (TrackerService). The gateway runs the tracker when the bus
   * is in-process (standalone mode) and leaves it to tracker processes when the bus is RabbitMQ;
   * the tracker app always runs it.
   */
  runTracker: boolean;
}

/** The TaskEventBus adapter for `bus.driver`. */
export function taskEventBusFor({ bus }: ProtesConfig): TaskEventBus {
  switch (bus.driver) {
    case 'in-process':
      return new InProcessTaskEventBus();
    case 'rabbitmq':
      return RmqTaskEventBus.fromConfig(bus);
  }
}

const busProvider: Provider = {
  provide: TaskEventBus,
  useFactory: taskEventBusFor,
  inject: [protesConfig.KEY],
};

/**
 * The task-event bus, bound to the adapter `bus.driver` names, and (with `runTracker`) the tracker.
 * Which providers exist is decided when the module graph is built, so `runTracker` is a plain
 * option rather than one read asynchronously from the configuration.
 */
@Module({})
export class TrackingModule {
  static forRoot({ runTracker }: TrackingModuleOptions): DynamicModule {
    const tracker = runTracker ? [TrackerService] : [];
    return {
      module: TrackingModule,
      imports: [DistributionModule],
      providers: [busProvider, ...tracker],
      exports: [TaskEventBus, ...tracker],
    };
  }
}
