import { Module } from '@nestjs/common';
import { DistributionModule } from '@protes/distribution';
import { InProcessTaskEventBus, TaskEventBus } from './task-events';
import { TrackerService } from './tracker.service';

/**
 * The tracker. In standalone mode the gateway imports this module and gateway and tracker share
 * the in-process event bus; the distributed mode binds TaskEventBus to RabbitMQ instead.
 */
@Module({
  imports: [DistributionModule],
  providers: [TrackerService, { provide: TaskEventBus, useClass: InProcessTaskEventBus }],
  exports: [TrackerService, TaskEventBus],
})
export class TrackingModule {}
