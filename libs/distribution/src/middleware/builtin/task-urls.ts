import type { TesInput, TesTaskRequest } from '@protes/tes';

export type RemoteInput = TesInput & { url: string };

/**
 * The inputs a node has to fetch. TES: "if content is not empty, url must be ignored", so an
 * inline input needs no storage at all.
 */
export function remoteInputs(task: TesTaskRequest): RemoteInput[] {
  return (task.inputs ?? []).filter((i): i is RemoteInput => !!i.url && !i.content);
}

/** TES allows a bare absolute path as an input URL; it means a file on the node's file system. */
export function normalizeUrl(url: string): string {
  return url.startsWith('/') ? `file://${url}` : url;
}

/** The URL's scheme in lower case (schemes are case-insensitive), or undefined. */
export function urlScheme(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1].toLowerCase();
}
