export * from './http-app';
export * from './http-protocol';
