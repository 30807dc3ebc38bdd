import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { SettingsError, type SettingsFiles } from './middleware';

/** Whether `path` is `directory` itself or lies below it (both absolute and normalized). */
function isWithin(directory: string, path: string): boolean {
  const rest = relative(directory, path);
  return rest !== '..' && !rest.startsWith(`..${sep}`) && !isAbsolute(rest);
}

/** A file system error as its code only (`ENOENT`): its message may name more than the client should see. */
const codeOf = (error: unknown): string => {
  const { code } = (error ?? {}) as { code?: unknown };
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'an error';
};

/**
 * Settings may name files only under `directories` (`middleware.fileDirs`, relative to
 * `cwd`); none configured, none allowed. A path is checked before anything is asked of the file
 * system, so that a client cannot learn which files exist elsewhere, and again once its links are
 * resolved, so that a link cannot lead out. Failures name the setting and at most an error code.
 */
export class DirectorySettingsFiles implements SettingsFiles {
  private readonly directories: string[];

  constructor(
    directories: readonly string[] = [],
    private readonly cwd = process.cwd(),
  ) {
    this.directories = directories.map((d) => resolve(cwd, d));
  }

  async read(field: string, path: string): Promise<Buffer> {
    const outside = new SettingsError(
      field,
      this.directories.length
        ? 'must name a file under a directory of middleware.fileDirs'
        : 'names a file, but middleware.fileDirs allows no directory',
    );
    const wanted = resolve(this.cwd, path);
    if (!this.directories.some((d) => isWithin(d, wanted))) throw outside;
    let real: string;
    try {
      real = await realpath(wanted);
    } catch (error) {
      throw new SettingsError(field, `cannot be read (${codeOf(error)})`);
    }
    const roots = await Promise.all(this.directories.map((d) => realpath(d).catch(() => d)));
    if (!roots.some((d) => isWithin(d, real))) throw outside;
    try {
      if (!(await stat(real)).isFile()) throw new SettingsError(field, 'is not a regular file');
      return await readFile(real);
    } catch (error) {
      if (error instanceof SettingsError) throw error;
      throw new SettingsError(field, `cannot be read (${codeOf(error)})`);
    }
  }
}
