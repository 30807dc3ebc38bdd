import { MiddlewareError, MiddlewareRejection } from '../middleware';
import { ClientPreferenceMiddleware } from './client-preference.middleware';
import { context, names, node, task } from './testing/fixtures';

describe('ClientPreferenceMiddleware', () => {
  const middleware = new ClientPreferenceMiddleware();
  const candidates = [
    node('hd-1', { region: 'eu-central' }),
    node('bcn-1', { region: 'eu-south' }),
    node('hd-2', { region: 'eu-central' }),
    node('nowhere'),
  ];
  const run = (tags: Record<string, string>, settings: Record<string, unknown> = {}) =>
    middleware.handle(context(candidates, task({ tags }), settings));

  it('is named client-preference', () => {
    expect(middleware.name).toBe('client-preference');
  });

  it('narrows to the named nodes, in incoming order, and keeps the tags', async () => {
    const out = await run({ 'protes.node': ' hd-2 , bcn-1,ghost', other: 'x' });
    expect(names(out)).toEqual(['bcn-1', 'hd-2']);
    expect(out.task.tags).toEqual({ 'protes.node': ' hd-2 , bcn-1,ghost', other: 'x' });
  });

  it('narrows to the nodes of a region, and to both when both tags are given', async () => {
    expect(names(await run({ 'protes.region': 'eu-central' }))).toEqual(['hd-1', 'hd-2']);
    expect(
      names(await run({ 'protes.region': 'eu-central', 'protes.node': 'hd-2,bcn-1' })),
    ).toEqual(['hd-2']);
  });

  it('changes nothing for a task without the tags', async () => {
    expect(names(await run({ other: 'x' }))).toEqual(candidates.map((c) => c.name));
    expect(names(await middleware.handle(context(candidates)))).toEqual(
      candidates.map((c) => c.name),
    );
  });

  it.each([
    [{ 'protes.node': 'ghost' }, 'tags.protes.node'],
    [{ 'protes.node': ' , ' }, 'tags.protes.node'],
    [{ 'protes.region': 'mars' }, 'tags.protes.region'],
    [{ 'protes.region': '' }, 'tags.protes.region'],
    [{ 'protes.node': 'bcn-1', 'protes.region': 'eu-central' }, 'tags'],
  ])('refuses %j with 400 naming %s', async (tags, field) => {
    const error = await run(tags).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiddlewareRejection);
    expect(error).toMatchObject({ status: 400, field });
  });

  it('ignores the tags when allow is false', async () => {
    expect(names(await run({ 'protes.node': 'ghost' }, { allow: false }))).toEqual(
      candidates.map((c) => c.name),
    );
    expect(names(await run({ 'protes.node': 'hd-1' }, { allow: true }))).toEqual(['hd-1']);
  });

  it('fails naming a bad setting', async () => {
    await expect(run({}, { allow: 'no' })).rejects.toThrow(
      new MiddlewareError('setting "allow" must be true or false'),
    );
    await expect(run({}, { allowed: true })).rejects.toThrow('setting "allowed" is unknown');
  });
});
