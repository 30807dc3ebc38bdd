import { Injectable } from '@nestjs/common';
import type { TaskContext } from '../middleware';
import { decide } from './decide';
import { type BuiltinMiddleware, NoSettings } from './settings';
import { normalizeUrl, remoteInputs, urlScheme } from './task-urls';

/** `s3://` or `s3:`: a whole scheme. */
const SCHEME_ENTRY = /^([a-z][a-z0-9+.-]*):(\/\/)?$/i;

/**
 * Whether a node's storage entry covers a URL: a scheme entry (`s3://`) covers every URL of that
 * scheme, any other entry (`s3://bucket/path/`) every URL that starts with it, literally — so end
 * a directory with `/`. Bare absolute paths, in entries and URLs alike, mean `file://` paths.
 */
function covers(entry: string, url: string): boolean {
  const scheme = SCHEME_ENTRY.exec(entry)?.[1];
  return scheme ? urlScheme(url) === scheme.toLowerCase() : url.startsWith(normalizeUrl(entry));
}

/** A node that declares no list (read or write) is taken to reach every URL; `[]` reaches none. */
const reachesAll = (entries: readonly string[] | undefined, urls: readonly string[]): boolean =>
  !entries || urls.every((url) => entries.some((entry) => covers(entry, url)));

/**
 * Keeps the nodes that can read every remote input (`metadata.storage.read`) and write every
 * output (`metadata.storage.write`). Inline inputs need no storage. It only filters: when no node
 * is left, the chain fails the task.
 */
@Injectable()
export class DataAccessMiddleware implements BuiltinMiddleware {
  readonly name = 'data-access';
  readonly description =
    'Keeps the nodes that can read every remote input and write every output, by their configured `storage.read` and `storage.write` lists: an entry that is a scheme (`s3://`) covers every URL of that scheme, any other entry every URL that starts with it, literally (end a directory with `/`). A node without a list reaches everything, `[]` nothing; inline inputs need no storage. It only filters: when no node is left, the task has no node.';
  readonly settingsSchema = NoSettings;

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      const reads = remoteInputs(context.task).map((i) => normalizeUrl(i.url));
      const writes = (context.task.outputs ?? []).map((o) => normalizeUrl(o.url));
      const candidates = context.candidates.filter(
        ({ metadata: { storage } }) =>
          reachesAll(storage?.read, reads) && reachesAll(storage?.write, writes),
      );
      return { ...context, candidates };
    });
  }
}
