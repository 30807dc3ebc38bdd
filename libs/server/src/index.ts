export * from './http-app';
export * from './http-protocol';
export * from './health';
