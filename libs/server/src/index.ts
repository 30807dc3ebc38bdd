export * from './http-app';
export * from './http-protocol';
export * from './health';
export * from './logger';
export * from './metrics';
export * from './request-context';
export * from './request-log';
