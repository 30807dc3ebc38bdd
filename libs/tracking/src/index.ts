export * from './task-events';
export * from './tracker.service';
export * from './tracking.module';
