import type { MongooseModuleFactoryOptions } from '@nestjs/mongoose';
import { MongooseError } from 'mongoose';
import type { MongoStoreOptions } from './persistence.module-definition';

/**
 * The name of the store's connection in MongooseModule. Not the default one, so that a middleware
 * plugin which opens a connection of its own with MongooseModule.forRoot does not clash with it.
 */
export const PROTES_CONNECTION = 'protes';

export const DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 10_000;

/** Whether the URL's query sets the option (MongoDB's URL options ignore case). */
function urlSets(url: string, option: string): boolean {
  const query = new URLSearchParams(url.split('?')[1] ?? '');
  return [...query.keys()].some((key) => key.toLowerCase() === option.toLowerCase());
}

/**
 * What MongooseModule.forRootAsync is given for the store's connection. The driver lets options
 * given here override the URL's, so the two defaults below yield to an operator who set them in
 * `store.mongoUrl`.
 */
export function mongooseOptions({
  url,
  dbName,
  serverSelectionTimeoutMS,
}: MongoStoreOptions): MongooseModuleFactoryOptions {
  return {
    uri: url,
    ...(dbName === undefined ? {} : { dbName }),
    // Shown by the server in its logs and currentOp, so an operator can tell proTES's connections.
    ...(urlSets(url, 'appName') ? {} : { appName: 'protes' }),
    ...(serverSelectionTimeoutMS === undefined && urlSets(url, 'serverSelectionTimeoutMS')
      ? {}
      : {
          serverSelectionTimeoutMS: serverSelectionTimeoutMS ?? DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
        }),
    // Nothing builds collections or indexes in the background: MongoTaskStore builds its indexes at
    // module init and waits for them, so that missing rights stop the start-up instead of being
    // logged later. Collections come with their first index or document.
    autoIndex: false,
    autoCreate: false,
    // The driver already waits serverSelectionTimeoutMS for a server. MongooseModule's retries on
    // top of that (9, 3 s apart, by default) would only hold back the report of a wrong URL for
    // minutes; the orchestrator restarts the process instead.
    retryAttempts: 0,
    connectionErrorFactory: (error) =>
      Object.assign(new MongooseError(`cannot open the MongoDB store: ${error.message}`), {
        cause: error,
      }),
  };
}
