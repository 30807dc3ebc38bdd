import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SettingsError } from './middleware';
import { DirectorySettingsFiles } from './settings-files';

describe('DirectorySettingsFiles', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'protes-settings-files-'));
    mkdirSync(join(dir, 'allowed/sub'), { recursive: true });
    writeFileSync(join(dir, 'allowed/sub/data.bin'), 'inside');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'allowed/leak.txt'));
    symlinkSync(join(dir, 'allowed/sub/data.bin'), join(dir, 'allowed/alias.bin'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const files = () => new DirectorySettingsFiles(['allowed', '/nonexistent/protes'], dir);
  const failure = async (read: Promise<unknown>) => {
    const error = await read.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SettingsError);
    return (error as SettingsError).errors;
  };

  it('reads a file under an allowed directory, by a relative or absolute path, or a link within', async () => {
    expect((await files().read('f', 'allowed/sub/data.bin')).toString()).toBe('inside');
    expect((await files().read('f', join(dir, 'allowed/sub/data.bin'))).toString()).toBe('inside');
    expect((await files().read('f', 'allowed/alias.bin')).toString()).toBe('inside');
  });

  it.each([
    ['secret.txt', 'must name a file under a directory of middleware.fileDirs'],
    ['allowed/../secret.txt', 'must name a file under a directory of middleware.fileDirs'],
    ['allowed/leak.txt', 'must name a file under a directory of middleware.fileDirs'],
    ['/etc/passwd', 'must name a file under a directory of middleware.fileDirs'],
    ['allowed/none.bin', 'cannot be read (ENOENT)'],
    ['allowed/sub', 'is not a regular file'],
  ])('refuses %s, naming the setting', async (path, reason) => {
    expect(await failure(files().read('rules[0].file', path))).toEqual([
      { field: 'rules[0].file', reason },
    ]);
  });

  it('allows nothing without directories', async () => {
    expect(
      await failure(new DirectorySettingsFiles([], dir).read('f', 'allowed/sub/data.bin')),
    ).toEqual([
      { field: 'f', reason: 'names a file, but middleware.fileDirs allows no directory' },
    ]);
  });
});
