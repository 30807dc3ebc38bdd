export * from './rmq-channel-errors';
export * from './rmq-options';
export * from './rmq-task-event-bus';
export * from './task-events';
export * from './tracker.service';
export * from './tracking.module';
export * from './tracker.metrics';
