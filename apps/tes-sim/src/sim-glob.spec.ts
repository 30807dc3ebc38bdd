import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { globBase, globFiles, globToRegExp, hasWildcard } from './sim-glob';

describe('output path patterns', () => {
  it.each([
    ['/data/*.txt', '/data/a.txt', true],
    ['/data/*.txt', '/data/sub/a.txt', false],
    ['/data/?.txt', '/data/a.txt', true],
    ['/data/?.txt', '/data/ab.txt', false],
    ['/data/[ab].txt', '/data/b.txt', true],
    ['/data/[!ab].txt', '/data/b.txt', false],
    ['/data/[a-c]*', '/data/cat', true],
    ['/data/**/x.bam', '/data/x.bam', true],
    ['/data/**/x.bam', '/data/a/b/x.bam', true],
    ['/data/**', '/data/a/b/c', true],
    ['/data/a.b', '/data/aXb', false],
  ])('%s matches %s: %s', (pattern, path, expected) => {
    expect(globToRegExp(pattern).test(path)).toBe(expected);
  });

  it('finds the base directory and the wildcards', () => {
    expect(globBase('/data/out/*.txt')).toBe('/data/out');
    expect(globBase('/*.txt')).toBe('/');
    expect(hasWildcard('/data/out/x.txt')).toBe(false);
    expect(hasWildcard('/data/out/[0-9].txt')).toBe(true);
  });

  it('lists the regular files matching, as container paths', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sim-glob-'));
    try {
      mkdirSync(join(root, 'data/out/deep'), { recursive: true });
      for (const file of ['data/out/a.txt', 'data/out/b.log', 'data/out/deep/c.txt']) {
        writeFileSync(join(root, file), file);
      }
      const toHost = (p: string) => join(root, p);
      expect(await globFiles('/data/out/*.txt', toHost)).toEqual(['/data/out/a.txt']);
      expect(await globFiles('/data/out/**/*.txt', toHost)).toEqual([
        '/data/out/a.txt',
        '/data/out/deep/c.txt',
      ]);
      expect(await globFiles('/data/none/*.txt', toHost)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
