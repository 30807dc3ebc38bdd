import { MiddlewareRejection } from '../middleware';
import { ClientPreferenceMiddleware } from './client-preference.middleware';
import type { NodeAvailability } from './node-availability';
import { context, names, node, settingsErrors, task } from './testing/fixtures';

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

  it('takes allow as its only setting, and names a bad one', async () => {
    expect(await settingsErrors(middleware, { allow: false })).toEqual([]);
    expect(await settingsErrors(middleware, { allow: 'no' })).toEqual([
      { field: 'allow', reason: 'must be boolean' },
    ]);
    expect(await settingsErrors(middleware, { allowed: true })).toEqual([
      { field: 'allowed', reason: 'is not a known setting' },
    ]);
  });

  describe('when a node the tags name is down', () => {
    // Configured: the candidates, and hd-3 (eu-central) and bcn-2 (eu-south), which are not.
    const configured = [
      ...candidates.map((c) => ({ name: c.name, region: c.metadata.region })),
      { name: 'hd-3', region: 'eu-central' },
      { name: 'bcn-2', region: 'eu-south' },
    ];
    const down = new Map<string, number>();
    const availability: NodeAvailability = {
      nodes: () => configured,
      downForMs: (name) => down.get(name),
    };
    const aware = new ClientPreferenceMiddleware(availability);
    const only = (names: string[]) => candidates.filter((c) => names.includes(c.name));
    const refusal = async (tags: Record<string, string>, offered = candidates) => {
      const error = await aware.handle(context(offered, task({ tags }))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MiddlewareRejection);
      return error as MiddlewareRejection;
    };
    beforeEach(() => down.clear());

    it('refuses with 503 and the seconds until its breaker lets a call through', async () => {
      down.set('hd-3', 12_300);
      const error = await refusal({ 'protes.node': 'hd-3' });
      expect(error).toMatchObject({
        status: 503,
        field: 'tags.protes.node',
        retryAfterSeconds: 13,
      });
      expect(error.message).toBe(
        'tag protes.node names no available node: a node it accepts is down right now (retry in 13 s)',
      );
    });

    it('takes the soonest of several, at least a second', async () => {
      down.set('hd-3', 40_000).set('bcn-2', 10);
      const error = await refusal({ 'protes.node': 'hd-3,bcn-2,ghost' });
      expect(error).toMatchObject({ status: 503, retryAfterSeconds: 1 });
    });

    it('names no node in a refusal, neither those of a region nor those the caller gave', async () => {
      down.set('hd-3', 5_000).set('bcn-2', 5_000);
      const byRegion = await refusal({ 'protes.region': 'eu-central' }, only(['bcn-1']));
      const byName = await refusal({ 'protes.node': 'hd-3' });
      for (const error of [byRegion, byName]) {
        expect(error.status).toBe(503);
        for (const name of configured.map((n) => n.name)) expect(error.message).not.toContain(name);
      }
    });

    it('refuses an unknown name as it refuses a node that is up but filtered out', async () => {
      const unknown = await refusal({ 'protes.node': 'ghost' });
      const filtered = await refusal({ 'protes.node': 'bcn-2' });
      expect({ ...filtered, message: filtered.message }).toEqual({
        ...unknown,
        message: unknown.message,
      });
    });

    it('refuses a region whose nodes are all down or filtered out with 503', async () => {
      down.set('bcn-2', 5_000);
      const error = await refusal({ 'protes.region': 'eu-south' }, only(['hd-1', 'hd-2']));
      expect(error).toMatchObject({
        status: 503,
        field: 'tags.protes.region',
        retryAfterSeconds: 5,
      });
    });

    it('refuses two tags whose only common node is down with 503', async () => {
      down.set('hd-3', 2_000);
      const error = await refusal({ 'protes.node': 'hd-3,bcn-1', 'protes.region': 'eu-central' });
      expect(error).toMatchObject({ status: 503, field: 'tags', retryAfterSeconds: 2 });
    });

    it('keeps 400 for names no node has, and for nodes that are up but not candidates', async () => {
      down.set('hd-3', 2_000);
      expect(await refusal({ 'protes.node': 'ghost' })).toMatchObject({ status: 400 });
      expect(await refusal({ 'protes.node': 'bcn-2' })).toMatchObject({ status: 400 });
      expect((await refusal({ 'protes.node': 'bcn-1' }, only(['hd-1']))).retryAfterSeconds).toBe(
        undefined,
      );
    });

    it('goes on with the named nodes that are up when one of them is down', async () => {
      down.set('hd-3', 2_000);
      expect(
        names(
          await aware.handle(context(candidates, task({ tags: { 'protes.node': 'hd-3,hd-1' } }))),
        ),
      ).toEqual(['hd-1']);
    });
  });
});
