import type { TesInput } from '@protes/tes';
import { type Caller, MiddlewareRejection, type Visa } from '../middleware';
import { DataUseMiddleware } from './data-use.middleware';
import type { NodeAvailability } from './node-availability';
import { contextFor, names, node, settingsErrors, task } from './testing/fixtures';

const EGA = 'https://ega-archive.org/datasets/EGAD00001';
const HOUR = 3600_000;
const visa = (value: string, expiresAt = Date.now() + HOUR): Visa => ({
  value,
  issuer: 'https://visas.example.org',
  expiresAt,
});

const RULES = [
  { name: 'eu-genomes', data: [{ prefix: 's3://eu-genomes/' }], regions: ['eu-west', 'eu-north'] },
  { name: 'secure', data: [{ host: '*.secure.example.org' }], nodeTags: { tier: 'secure' } },
  { name: 'ega', data: [{ prefix: 'https://ega.example.org/EGAD00001/' }], users: [{ visa: EGA }] },
  {
    name: 'team',
    data: [{ prefix: '/shared/team/' }, { host: 'team.example.org', prefix: 'https://' }],
    users: [{ owners: ['https://login.example.org|alice'] }, { claims: { groups: 'team' } }],
  },
];

const candidates = [
  node('us', { region: 'us-east', tags: { tier: 'secure' } }),
  node('eu-1', { region: 'eu-west' }),
  node('eu-2', { region: 'eu-north', tags: { tier: 'secure' } }),
  node('nowhere'),
];

const NEW_TASK_CALLER: Caller = {
  subject: 'https://login.example.org|bob',
  headers: {},
  visas: [],
};

async function run(
  urls: (string | TesInput)[],
  caller: Caller = NEW_TASK_CALLER,
  rules: readonly object[] = RULES,
) {
  const middleware = new DataUseMiddleware();
  const inputs = urls.map((u) => (typeof u === 'string' ? { url: u, path: '/in' } : u));
  const context = await contextFor(middleware, candidates, task({ inputs }), { rules });
  return middleware.handle({ ...context, caller });
}

async function refusal(promise: Promise<unknown>): Promise<MiddlewareRejection> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MiddlewareRejection);
  return error as MiddlewareRejection;
}

describe('DataUseMiddleware', () => {
  it('is named data-use', () => {
    expect(new DataUseMiddleware().name).toBe('data-use');
  });

  describe('which data a rule is about', () => {
    it.each([
      ['s3://eu-genomes/cohort/1.bam', 'eu-genomes'],
      ['https://DATA.secure.example.org/x', 'secure'],
      ['https://a.b.secure.example.org/x', 'secure'],
      ['/shared/team/ref.fa', 'team'],
      ['file:///shared/team/ref.fa', 'team'],
      ['https://team.example.org/x', 'team'],
    ])('%s is the data of rule %s', async (url, rule) => {
      const caller = { ...NEW_TASK_CALLER, subject: 'https://login.example.org|alice' };
      const out = await run([url], caller);
      expect(out.reason).toMatch(new RegExp(`^rule ${rule}\\b`));
    });

    it.each([
      's3://eu-genomes-other/1.bam', // a prefix is literal: end a directory with /
      's3://other/eu-genomes/1.bam',
      'https://secure.example.org.evil.net/x', // a host pattern matches the whole host
      'http://team.example.org/x', // both prefix and host must match
      '/shared/teams/x',
    ])('%s is no rule’s data: every candidate stays', async (url) => {
      const out = await run([url]);
      expect(names(out)).toEqual(candidates.map((c) => c.name));
      expect(out.reason).toBe('no rule applies to its inputs');
    });

    it('ignores inline inputs (their url is not read) and outputs', async () => {
      const out = await run([{ path: '/in', url: 's3://eu-genomes/1.bam', content: 'ACGT' }]);
      expect(names(out)).toHaveLength(candidates.length);
    });
  });

  describe('where data may be processed', () => {
    it('keeps the nodes of the rule’s regions, in their order, and says why', async () => {
      const out = await run(['https://example.org/public', 's3://eu-genomes/1.bam']);
      expect(names(out)).toEqual(['eu-1', 'eu-2']);
      expect(out.reason).toBe('rule eu-genomes: only on nodes of region eu-west, eu-north');
    });

    it('keeps the nodes every applying rule allows', async () => {
      const out = await run(['s3://eu-genomes/1.bam', 'https://x.secure.example.org/2']);
      expect(names(out)).toEqual(['eu-2']);
      expect(out.reason).toBe(
        'rule eu-genomes: only on nodes of region eu-west, eu-north; rule secure: only on nodes of tags tier=secure',
      );
    });

    it('refuses with 403 naming the rule and the input when no candidate is allowed', async () => {
      const rules = [{ ...RULES[0], regions: ['eu-south'] }];
      const error = await refusal(run(['s3://other/0', 's3://eu-genomes/1.bam'], undefined, rules));
      expect(error).toMatchObject({ status: 403, field: 'inputs[1].url' });
      expect(error.message).toBe(
        'rule eu-genomes: the data of inputs[1].url may be processed only on nodes of region eu-south, and no such node is available to the task',
      );
    });

    describe('when a node the rules allow is down', () => {
      // Configured: the candidates, and eu-3 (eu-west), which is not one (its breaker is open).
      const configured = [
        ...candidates.map((c) => ({ name: c.name, ...c.metadata })),
        { name: 'eu-3', region: 'eu-west' },
      ];
      const down = new Map<string, number>();
      const availability: NodeAvailability = {
        nodes: () => configured,
        downForMs: (name) => down.get(name),
      };
      const onlyUs = candidates.filter((c) => c.name === 'us');
      const refused = async () => {
        const middleware = new DataUseMiddleware(availability);
        const inputs = [{ url: 's3://eu-genomes/1.bam', path: '/in' }];
        const context = await contextFor(middleware, onlyUs, task({ inputs }), { rules: RULES });
        return refusal(middleware.handle({ ...context, caller: NEW_TASK_CALLER }));
      };
      beforeEach(() => down.clear());

      it('refuses with 503 and the seconds until its breaker lets a call through', async () => {
        down.set('eu-3', 4_200);
        down.set('us', 1_000); // down too, but not a node the rule allows
        const error = await refused();
        expect(error).toMatchObject({ status: 503, field: 'inputs[0].url', retryAfterSeconds: 5 });
        expect(error.message).toBe(
          'rule eu-genomes: the data of inputs[0].url may be processed only on nodes of region eu-west, eu-north, and no such node is available to the task: a node it allows is down right now (retry in 5 s)',
        );
      });

      it('refuses with 403 when the nodes it allows are up but not candidates', async () => {
        expect(await refused()).toMatchObject({ status: 403, field: 'inputs[0].url' });
      });
    });
  });

  describe('who may use data', () => {
    it('takes a caller holding a visa for the dataset', async () => {
      const out = await run(['https://ega.example.org/EGAD00001/a.cram'], {
        ...NEW_TASK_CALLER,
        visas: [visa('https://other/dataset'), visa(EGA)],
      });
      expect(names(out)).toHaveLength(candidates.length);
      expect(out.reason).toBe('rule ega');
    });

    it.each([
      ['no visa', []],
      ['a visa for another dataset', [visa(`${EGA}0`)]],
      ['an expired visa', [visa(EGA, Date.now() - 1000)]],
    ])('refuses a caller with %s: 403 naming the rule and the visa', async (_what, visas) => {
      const error = await refusal(
        run(['https://ega.example.org/EGAD00001/a.cram'], { ...NEW_TASK_CALLER, visas }),
      );
      expect(error).toMatchObject({ status: 403, field: 'inputs[0].url' });
      expect(error.message).toBe(
        `rule ega: the caller may not use the data of inputs[0].url (a valid GA4GH Passport ControlledAccessGrants visa for ${EGA} is required)`,
      );
    });

    it('refuses a caller who may not use the data before it looks at where it may go', async () => {
      const rules = [{ ...RULES[0], regions: ['eu-south'] }, RULES[2]];
      const urls = ['s3://eu-genomes/1.bam', 'https://ega.example.org/EGAD00001/a.cram'];
      const error = await refusal(run(urls, NEW_TASK_CALLER, rules));
      expect(error.message).toMatch(
        /^rule ega: the caller may not use the data of inputs\[1\]\.url/,
      );
    });

    it('takes any one of its users: an owner id, or a caller holding the claims', async () => {
      const url = '/shared/team/x';
      await run([url], { ...NEW_TASK_CALLER, subject: 'https://login.example.org|alice' });
      await run([url], { ...NEW_TASK_CALLER, claims: { groups: ['x', 'team'] } });
      const error = await refusal(run([url], { ...NEW_TASK_CALLER, claims: { groups: 'x' } }));
      expect(error.message).toBe('rule team: the caller may not use the data of inputs[0].url');
    });

    it('asks every condition of one user', async () => {
      const rules = [{ ...RULES[3], users: [{ claims: { groups: 'team' }, visa: EGA }] }];
      const team = { ...NEW_TASK_CALLER, claims: { groups: 'team' } };
      await refusal(run(['/shared/team/x'], team, rules));
      await run(['/shared/team/x'], { ...team, visas: [visa(EGA)] }, rules);
    });

    it('checks only where, when the chain runs again for an accepted task (no visas known)', async () => {
      const accepted: Caller = { subject: 'https://login.example.org|bob', headers: {} };
      const out = await run(['https://ega.example.org/EGAD00001/a', 's3://eu-genomes/b'], accepted);
      expect(names(out)).toEqual(['eu-1', 'eu-2']);
      expect(out.reason).toBe(
        'rule eu-genomes: only on nodes of region eu-west, eu-north; rule ega (users checked when the task was accepted)',
      );
    });
  });

  describe('settings', () => {
    const middleware = new DataUseMiddleware();

    it('takes the rules of the docs', async () => {
      expect(await settingsErrors(middleware, { rules: RULES })).toEqual([]);
      expect(await settingsErrors(middleware, {})).toEqual([]);
    });

    it.each([
      [{ rules: [{ name: 'x', data: [{ prefix: 's3://a/' }] }] }, 'rules[0]'],
      [{ rules: [{ name: 'x', data: [], regions: ['eu'] }] }, 'rules[0].data'],
      [{ rules: [{ name: 'x', data: [{}], regions: ['eu'] }] }, 'rules[0].data[0]'],
      [{ rules: [{ name: 'a b', data: [{ host: 'h' }], regions: ['eu'] }] }, 'rules[0].name'],
      [{ rules: [{ name: 'x', data: [{ host: 'h' }], users: [{}] }] }, 'rules[0].users[0]'],
      [{ rules: [{ name: 'x', data: [{ host: 'h' }], nodeTags: {} }] }, 'rules[0].nodeTags'],
      [{ rules: [{ ...RULES[0], place: 'eu' }] }, 'rules[0].place'],
    ])('refuses %j, naming %s', async (settings, field) => {
      const errors = await settingsErrors(middleware, settings);
      expect(errors.map((e) => e.field)).toContain(field);
    });

    it('refuses two rules of one name, naming the second', async () => {
      const errors = await settingsErrors(middleware, { rules: [RULES[0], RULES[1], RULES[0]] });
      expect(errors).toEqual([
        { field: 'rules[2].name', reason: 'is the name of rules[0] already' },
      ]);
    });
  });
});
