import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Output path patterns, as TES 1.1 allows them (`/data/out/*.txt`): `*` matches any characters
 * but `/`, `?` one such character, `[abc]`/`[a-z]`/`[!a]` one of a set, and a whole `**` segment
 * any number of directories (none included). Node 20 has no glob in node:fs, hence this.
 */

export const hasWildcard = (path: string): boolean => /[*?[]/.test(path);

const escape = (text: string): string => text.replace(/[\\^$.+(){}|[\]*?/]/g, '\\$&');

function segmentSource(segment: string): string {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let set = segment.slice(i + 1, close);
      const negated = set.startsWith('!') || set.startsWith('^');
      if (negated) set = set.slice(1);
      source += `[${negated ? '^/' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else source += escape(c);
  }
  return source;
}

/** The pattern as a regular expression over whole absolute paths. */
export function globToRegExp(pattern: string): RegExp {
  const segments = pattern.split('/');
  let source = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') source += last ? '.*' : '(?:[^/]+/)*';
    else source += segmentSource(segment) + (last ? '' : '/');
  });
  return new RegExp(`^${source}$`);
}

/** The directory the pattern's matches all lie under: its segments before the first wildcard. */
export function globBase(pattern: string): string {
  const segments = pattern.split('/');
  const first = segments.findIndex((s) => hasWildcard(s));
  const base = segments.slice(0, first < 0 ? segments.length - 1 : first).join('/');
  return base === '' ? '/' : base;
}

/**
 * The files matching `pattern` (an absolute path in the container), as container paths, sorted.
 * `toHost` maps a container path to where it is on this machine. Only regular files match.
 */
export async function globFiles(
  pattern: string,
  toHost: (containerPath: string) => string,
): Promise<string[]> {
  const regex = globToRegExp(pattern);
  const base = globBase(pattern);
  const matches: string[] = [];
  const walk = async (containerDir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(toHost(containerDir), { withFileTypes: true });
    } catch {
      return; // no such directory: nothing matches under it
    }
    for (const entry of entries) {
      const path = containerDir === '/' ? `/${entry.name}` : `${containerDir}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && regex.test(path)) matches.push(path);
    }
  };
  await walk(base);
  return matches.sort();
}

/** Every regular file under a host directory, as paths relative to it ('/'-separated), sorted. */
export async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(dir, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  await walk('');
  return files.sort();
}
