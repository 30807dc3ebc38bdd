export * from './sim-bootstrap';
export * from './sim-config';
export { SIM_OUTCOMES, SIM_TAGS, type SimOutcome } from './sim-task-plan';
export { SIM_ROUTES, type SimRouteName } from './sim-stats.service';
export type { SimStats } from './sim-control.controller';
export type { SimOutageMode, SimOutageState } from './sim-outage.service';
export type { SimServiceInfo } from './sim-service-info.controller';
export { SimModule } from './sim.module';
export { callJson, type JsonAnswer, simTask, waitForState } from './sim-testing';
