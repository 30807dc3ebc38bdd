import {
  type ErrorResponse,
  schemaValidator,
  type TesListTasksResponse,
  TesListTasksResponseSchema,
  TesServiceInfoSchema,
  type TesTask,
} from '@protes/tes';
import { type SimulatorHandle, startSimulator } from './sim-bootstrap';
import { callJson, simTask, waitForState } from './sim-testing';

describe('TES routes', () => {
  let sim: SimulatorHandle;

  beforeAll(async () => {
    sim = await startSimulator({
      name: 'routes',
      latitude: 48.1,
      longitude: 11.6,
      queuedMs: 20,
      initializingMs: 20,
      runningMs: 20,
      logLevel: 'error',
    });
  });
  afterAll(() => sim.close());

  const submit = async (overrides: Parameters<typeof simTask>[0] = {}): Promise<string> => {
    const { status, body } = await callJson<{ id: string }>(
      `${sim.tesUrl}/tasks`,
      'POST',
      simTask(overrides),
    );
    expect(status).toBe(200);
    return body.id;
  };

  it('answers service-info as a GA4GH TES service, with only the fields service-info and TES define', async () => {
    const { status, body } = await callJson<Record<string, unknown>>(`${sim.tesUrl}/service-info`);
    expect(status).toBe(200);
    expect(schemaValidator(TesServiceInfoSchema)(body)).toBe(true);
    expect(body).toMatchObject({
      id: 'org.ga4gh.tes-sim.routes',
      name: 'routes',
      type: { group: 'org.ga4gh', artifact: 'tes', version: '1.1.0' },
      storage: ['file:///sim'],
    });
    // The location given at start has no field in service-info 1.0, and a node that was told no
    // backend parameters declares none.
    const serviceInfo10 = [
      'id', 'name', 'type', 'description', 'organization', 'contactUrl', 'documentationUrl',
      'createdAt', 'updatedAt', 'environment', 'version',
    ]; // prettier-ignore
    expect(Object.keys(body).filter((key) => !serviceInfo10.includes(key))).toEqual(['storage']);
  });

  describe('create', () => {
    it('refuses an invalid task with 400 naming the fields', async () => {
      const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/tasks`, 'POST', {
        executors: [{ image: 'alpine', command: [] }],
        inputs: [{ path: 'relative', url: 's3://x' }],
      });
      expect(status).toBe(400);
      expect(body).toMatchObject({ status_code: 400, msg: expect.any(String) });
      expect(body.errors?.map((e) => e.field)).toEqual(
        expect.arrayContaining(['executors[0].command']),
      );
    });

    it('names a missing executors field', async () => {
      const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/tasks`, 'POST', {
        name: 'x',
      });
      expect(status).toBe(400);
      expect(body.errors).toEqual([{ field: 'executors', reason: 'is required' }]);
    });

    it('answers a body that is not JSON with a TES-style 400', async () => {
      const response = await fetch(`${sim.tesUrl}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ status_code: 400, msg: expect.any(String) });
    });

    it('refuses a body that tries to poison the prototype', async () => {
      const response = await fetch(`${sim.tesUrl}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"__proto__":{"admin":true},"executors":[{"image":"a","command":["b"]}]}',
      });
      expect(response.status).toBe(400);
    });

    it('drops fields it does not know and keeps the rest', async () => {
      const id = await submit({ description: 'kept', ...({ colour: 'red' } as object) });
      const { body } = await callJson<Record<string, unknown>>(
        `${sim.tesUrl}/tasks/${id}?view=BASIC`,
      );
      expect(body.description).toBe('kept');
      expect(body).not.toHaveProperty('colour');
    });
  });

  describe('get', () => {
    it('answers MINIMAL by default, and BASIC and FULL on request', async () => {
      const id = await submit({
        inputs: [{ path: '/in.txt', content: 'secret-ish' }],
        tags: { 'sim.run_ms': '0' },
      });
      await waitForState(sim.tesUrl, id, 'COMPLETE');
      const minimal = await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}`);
      expect(minimal.body).toEqual({ id, state: 'COMPLETE' });
      const basic = await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}?view=BASIC`);
      expect(basic.body.inputs).toEqual([{ path: '/in.txt' }]);
      expect(basic.body.logs![0].logs[0]).not.toHaveProperty('stdout');
      const full = await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}?view=FULL`);
      expect(full.body.inputs).toEqual([{ path: '/in.txt', content: 'secret-ish' }]);
      expect(full.body.logs![0].logs[0].stdout).toBe('hello\n');
    });

    it('answers 404 with a TES-style body for an unknown task', async () => {
      const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/tasks/no-such-task`);
      expect(status).toBe(404);
      expect(body).toEqual({ status_code: 404, msg: 'task no-such-task not found' });
    });

    it('refuses an unknown view naming it', async () => {
      const id = await submit();
      const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/tasks/${id}?view=HUGE`);
      expect(status).toBe(400);
      expect(body.errors?.[0].field).toBe('view');
    });

    it('answers an unknown route with a TES-style 404', async () => {
      const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/nothing-here`);
      expect(status).toBe(404);
      expect(body.status_code).toBe(404);
    });
  });

  describe('cancel', () => {
    it('cancels an active task', async () => {
      const id = await submit({ tags: { 'sim.run_ms': '60000' } });
      await waitForState(sim.tesUrl, id, 'RUNNING');
      const { status, body } = await callJson(`${sim.tesUrl}/tasks/${id}:cancel`, 'POST');
      expect(status).toBe(200);
      expect(body).toEqual({});
      const task = await waitForState(sim.tesUrl, id, 'CANCELED', 1000);
      expect(task.logs![0].end_time).toEqual(expect.any(String));
      // It stays canceled: the running timer was cleared.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}`)).body.state).toBe('CANCELED');
    });

    it('cancels a queued task, also with the colon percent-encoded', async () => {
      const id = await submit();
      const { status } = await callJson(`${sim.tesUrl}/tasks/${id}%3Acancel`, 'POST');
      expect(status).toBe(200);
      expect((await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}`)).body.state).toBe('CANCELED');
    });

    it('takes an empty body labelled application/json', async () => {
      const id = await submit();
      const response = await fetch(`${sim.tesUrl}/tasks/${id}:cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '',
      });
      expect(response.status).toBe(200);
      const empty = await fetch(`${sim.tesUrl}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '',
      });
      expect(empty.status).toBe(400);
      expect(((await empty.json()) as ErrorResponse).errors?.[0].field).toBe('(body)');
    });

    it('leaves a task that has ended as it is', async () => {
      const id = await submit({ tags: { 'sim.outcome': 'EXECUTOR_ERROR', 'sim.run_ms': '0' } });
      await waitForState(sim.tesUrl, id, 'EXECUTOR_ERROR');
      const { status, body } = await callJson(`${sim.tesUrl}/tasks/${id}:cancel`, 'POST');
      expect(status).toBe(200);
      expect(body).toEqual({});
      expect((await callJson<TesTask>(`${sim.tesUrl}/tasks/${id}`)).body.state).toBe(
        'EXECUTOR_ERROR',
      );
    });

    it('answers 404 for an unknown task', async () => {
      const { status, body } = await callJson<ErrorResponse>(
        `${sim.tesUrl}/tasks/nope:cancel`,
        'POST',
      );
      expect(status).toBe(404);
      expect(body.msg).toContain('nope');
    });
  });
});

describe('list', () => {
  let sim: SimulatorHandle;
  const validList = schemaValidator<TesListTasksResponse>(TesListTasksResponseSchema);
  const ids: Record<string, string> = {};

  const list = async (query = ''): Promise<TesListTasksResponse> => {
    const { status, body } = await callJson<TesListTasksResponse>(`${sim.tesUrl}/tasks${query}`);
    expect(status).toBe(200);
    expect(validList(body)).toBe(true);
    return body;
  };

  beforeAll(async () => {
    // Tasks stay QUEUED unless forced through quickly, so states are predictable.
    sim = await startSimulator({ queuedMs: 60_000, logLevel: 'error' });
    const make = async (key: string, task: Parameters<typeof simTask>[0]) => {
      ids[key] = (
        await callJson<{ id: string }>(`${sim.tesUrl}/tasks`, 'POST', simTask(task))
      ).body.id;
    };
    await make('a', { name: 'align-1', tags: { project: 'x', team: 'red' } });
    await make('b', { name: 'align-2', tags: { project: 'y' } });
    await make('c', { name: 'call.*', tags: { project: 'x', empty: '' } });
    await make('d', { name: 'other' });
    await make('e', { name: 'align-3' });
    expect((await callJson(`${sim.tesUrl}/tasks/${ids.e}:cancel`, 'POST')).status).toBe(200);
  });
  afterAll(() => sim.close());

  it('lists newest first, MINIMAL by default', async () => {
    const { tasks, next_page_token } = await list();
    expect(tasks.map((t) => t.id)).toEqual([ids.e, ids.d, ids.c, ids.b, ids.a]);
    expect(tasks[0]).toEqual({ id: ids.e, state: 'CANCELED' });
    expect(next_page_token).toBeUndefined();
  });

  it('gives BASIC and FULL views', async () => {
    const basic = await list('?view=BASIC');
    expect(basic.tasks[0]).toMatchObject({ name: 'align-3', executors: expect.any(Array) });
    const full = await list('?view=FULL&name_prefix=call');
    expect(full.tasks[0].tags).toEqual({ project: 'x', empty: '' });
  });

  it('filters by a literal name prefix', async () => {
    expect((await list('?name_prefix=align')).tasks.map((t) => t.id)).toEqual([
      ids.e,
      ids.b,
      ids.a,
    ]);
    // Pattern characters are literal.
    expect((await list('?name_prefix=call.*')).tasks.map((t) => t.id)).toEqual([ids.c]);
    expect((await list('?name_prefix=a.ign')).tasks).toEqual([]);
  });

  it('filters by state', async () => {
    expect((await list('?state=CANCELED')).tasks.map((t) => t.id)).toEqual([ids.e]);
    expect((await list('?state=QUEUED')).tasks).toHaveLength(4);
  });

  it('zips tag_key and tag_value as the spec says', async () => {
    const by = async (q: string) => (await list(q)).tasks.map((t) => t.id);
    expect(await by('?tag_key=project&tag_value=x')).toEqual([ids.c, ids.a]);
    expect(await by('?tag_key=project')).toEqual([ids.c, ids.b, ids.a]);
    expect(await by('?tag_key=project&tag_value=x&tag_key=team&tag_value=red')).toEqual([ids.a]);
    expect(await by('?tag_key=team&tag_key=project')).toEqual([ids.a]);
    expect(await by('?tag_key=empty&tag_value=')).toEqual([ids.c]);
    expect(await by('?tag_key=project&tag_value=z')).toEqual([]);
  });

  it('pages with a token only while more tasks follow', async () => {
    const first = await list('?page_size=2');
    expect(first.tasks.map((t) => t.id)).toEqual([ids.e, ids.d]);
    expect(first.next_page_token).toEqual(expect.any(String));
    const second = await list(`?page_size=2&page_token=${first.next_page_token}`);
    expect(second.tasks.map((t) => t.id)).toEqual([ids.c, ids.b]);
    const third = await list(`?page_size=2&page_token=${second.next_page_token}`);
    expect(third.tasks.map((t) => t.id)).toEqual([ids.a]);
    expect(third.next_page_token).toBeUndefined();
    // An exact fit gives no token either.
    expect((await list('?page_size=5')).next_page_token).toBeUndefined();
    // Filters apply across pages.
    const filtered = await list('?page_size=1&name_prefix=align');
    const rest = await list(
      `?page_size=5&name_prefix=align&page_token=${filtered.next_page_token}`,
    );
    expect([...filtered.tasks, ...rest.tasks].map((t) => t.id)).toEqual([ids.e, ids.b, ids.a]);
  });

  it.each([
    ['?view=ALL', 'view'],
    ['?state=DONE', 'state'],
    ['?page_size=0', 'page_size'],
    ['?page_size=ten', 'page_size'],
    ['?page_size=2049', 'page_size'],
    ['?page_token=bogus', 'page_token'],
    ['?tag_value=x', 'tag_value'],
  ])('refuses %s naming %s', async (query, field) => {
    const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/tasks${query}`);
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.field)).toEqual([field]);
  });
});

describe('a node that cannot list', () => {
  it('answers GET /tasks with 501 and serves the rest', async () => {
    const sim = await startSimulator({ list: false, logLevel: 'error' });
    try {
      const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/tasks`);
      expect(status).toBe(501);
      expect(body.status_code).toBe(501);
      const created = await callJson<{ id: string }>(`${sim.tesUrl}/tasks`, 'POST', simTask());
      expect(created.status).toBe(200);
      expect((await callJson(`${sim.tesUrl}/tasks/${created.body.id}`)).status).toBe(200);
    } finally {
      await sim.close();
    }
  });
});
