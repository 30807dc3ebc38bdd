import { DataAccessMiddleware } from './data-access.middleware';
import { context, names, node, task } from './testing/fixtures';

describe('DataAccessMiddleware', () => {
  const middleware = new DataAccessMiddleware();
  const candidates = [
    node('open'), // declares nothing: reaches everything
    node('s3', { storage: { read: ['s3://'], write: ['S3:'] } }),
    node('bucket', { storage: { read: ['s3://bucket/data/'], write: ['s3://bucket/out/'] } }),
    node('read-only', { storage: { read: ['s3://', 'https://'], write: [] } }),
    node('writes-only', { storage: { write: ['s3://'] } }), // reads everything
    node('local', { storage: { read: ['file://', '/scratch/'], write: ['/scratch/'] } }),
    node('ftp', { storage: { read: ['ftp://'], write: ['ftp://'] } }),
  ];
  const keep = async (taskRequest: ReturnType<typeof task>) =>
    names(await middleware.handle(context(candidates, taskRequest)));

  it('is named data-access', () => {
    expect(middleware.name).toBe('data-access');
  });

  it('keeps exactly the nodes that can read every input and write every output', async () => {
    const s3Task = task({
      inputs: [
        { path: '/in/a', url: 's3://bucket/data/a.bam' },
        { path: '/in/b', url: 'S3://bucket/data/b.bam' },
        { path: '/in/inline', content: 'needs no storage', url: 'ftp://ignored/x' },
      ],
      outputs: [{ path: '/out/x', url: 's3://bucket/out/x.vcf' }],
    });
    // S3://… is no literal prefix of s3://bucket/data/, so "bucket" cannot read input b.
    expect(await keep(s3Task)).toEqual(['open', 's3', 'writes-only']);
  });

  it('matches prefixes literally, and bare paths as file:// URLs', async () => {
    expect(
      await keep(
        task({
          inputs: [{ path: '/in/a', url: 's3://bucket/data/a' }],
          outputs: [{ path: '/out/x', url: 's3://bucket/outside/x' }],
        }),
      ),
    ).toEqual(['open', 's3', 'writes-only']);
    expect(
      await keep(
        task({
          inputs: [
            { path: '/in/a', url: '/scratch/a' },
            { path: '/in/b', url: 'file:///home/b' },
          ],
          outputs: [{ path: '/out/x', url: 'file:///scratch/x' }],
        }),
      ),
    ).toEqual(['open', 'local']);
  });

  it('keeps every node for a task without remote inputs or outputs', async () => {
    const inline = task({ inputs: [{ path: '/in/a', content: 'x' }] });
    expect(await keep(inline)).toEqual(candidates.map((c) => c.name));
  });

  it('only filters: no node left is for the chain to handle', async () => {
    const gs = task({ outputs: [{ path: '/out/x', url: 'gs://b/x' }] });
    const out = await middleware.handle(context(candidates.slice(1), gs));
    expect(names(out)).toEqual([]);
  });
});
