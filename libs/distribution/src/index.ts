export * from './distribution.module';
export * from './forwarding.service';
export * from './node-registry';
export * from './node-selector';
