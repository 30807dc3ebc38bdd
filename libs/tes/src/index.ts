export * from './list-query';
export * from './models';
export * from './request-limits';
export * from './tes-node.client';
export * from './validation';
export * from './views';
