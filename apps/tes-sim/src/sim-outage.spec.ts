import type { ErrorResponse } from '@protes/tes';
import { type SimulatorHandle, startSimulator } from './sim-bootstrap';
import type { SimStats } from './sim-control.controller';
import { callJson, simTask } from './sim-testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The status of a request, or the error code when the connection itself failed. */
async function reach(url: string): Promise<number | string> {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return cause?.code ?? 'failed';
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
  return Date.now() - started;
}

describe('error outage', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await startSimulator({ errorMs: 500, logLevel: 'error' });
  });
  afterAll(() => sim.close());

  it('answers 503 on TES routes from the start for error-ms, then recovers', async () => {
    const { status, body } = await callJson<ErrorResponse>(`${sim.tesUrl}/service-info`);
    expect(status).toBe(503);
    expect(body).toMatchObject({ status_code: 503, msg: expect.stringContaining('outage') });
    expect((await callJson(`${sim.tesUrl}/tasks`, 'POST', simTask())).status).toBe(503);
    // Control routes stay up.
    expect((await callJson<SimStats>(`${sim.url}/sim/stats`)).body.outage.mode).toBe('error');
    await until(async () => (await reach(`${sim.tesUrl}/service-info`)) === 200, 2000);
    expect((await callJson(`${sim.tesUrl}/tasks`, 'POST', simTask())).status).toBe(200);
  });

  it('starts on request through /sim/outage and ends after ms', async () => {
    const started = Date.now();
    const { status, body } = await callJson(`${sim.url}/sim/outage`, 'POST', {
      mode: 'error',
      ms: 400,
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ mode: 'error' });
    expect(await reach(`${sim.tesUrl}/tasks`)).toBe(503);
    expect(await reach(`${sim.tesUrl}/tasks/x`)).toBe(503);
    await until(async () => (await reach(`${sim.tesUrl}/tasks`)) === 200, 2000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });

  it('ends early with ms 0', async () => {
    await callJson(`${sim.url}/sim/outage`, 'POST', { mode: 'error', ms: 60_000 });
    expect(await reach(`${sim.tesUrl}/tasks`)).toBe(503);
    await callJson(`${sim.url}/sim/outage`, 'POST', { mode: 'error', ms: 0 });
    expect(await reach(`${sim.tesUrl}/tasks`)).toBe(200);
  });

  it('refuses a bad outage body naming the fields', async () => {
    const { status, body } = await callJson<ErrorResponse>(`${sim.url}/sim/outage`, 'POST', {
      mode: 'down',
      ms: -1,
    });
    expect(status).toBe(400);
    expect(body.errors?.map((e) => e.field)).toEqual(['mode', 'ms']);
  });
});

describe('refuse outage', () => {
  it('refuses connections for ms, also on kept-alive connections, then listens on the same port', async () => {
    const sim = await startSimulator({ logLevel: 'error' });
    try {
      // Warm a keep-alive connection in fetch's pool first.
      expect(await reach(`${sim.tesUrl}/service-info`)).toBe(200);
      const started = Date.now();
      const { status } = await callJson(`${sim.url}/sim/outage`, 'POST', {
        mode: 'refuse',
        ms: 500,
      });
      expect(status).toBe(200);
      expect(await reach(`${sim.tesUrl}/service-info`)).toBe('ECONNREFUSED');
      expect(await reach(`${sim.url}/sim/stats`)).toBe('ECONNREFUSED');
      await until(async () => (await reach(`${sim.tesUrl}/service-info`)) === 200, 3000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(490);
      const { body } = await callJson<SimStats>(`${sim.url}/sim/stats`);
      expect(body.outage.mode).toBe('none');
    } finally {
      await sim.close();
    }
  });

  it('refuses from the start for refuse-ms, with the port known at once', async () => {
    const sim = await startSimulator({ refuseMs: 500, logLevel: 'error' });
    try {
      expect(sim.port).toBeGreaterThan(0);
      expect(await reach(`${sim.tesUrl}/service-info`)).toBe('ECONNREFUSED');
      await sim.ready;
      expect(await reach(`${sim.tesUrl}/service-info`)).toBe(200);
    } finally {
      await sim.close();
    }
  });

  it('closes cleanly while refusing', async () => {
    const sim = await startSimulator({ refuseMs: 60_000, logLevel: 'error' });
    await sim.close();
    expect(await reach(`${sim.tesUrl}/service-info`)).toBe('ECONNREFUSED');
  });
});

describe('stats', () => {
  it('counts requests per TES route, including refused ones, and tasks by state; resets counts', async () => {
    const sim = await startSimulator({ queuedMs: 60_000, logLevel: 'error' });
    try {
      const { body: created } = await callJson<{ id: string }>(
        `${sim.tesUrl}/tasks`,
        'POST',
        simTask(),
      );
      await callJson(`${sim.tesUrl}/tasks`, 'POST', simTask());
      await callJson(`${sim.tesUrl}/tasks`, 'POST', { bad: true });
      await callJson(`${sim.tesUrl}/tasks`);
      await callJson(`${sim.tesUrl}/tasks/${created.id}`);
      await callJson(`${sim.tesUrl}/tasks/${created.id}:cancel`, 'POST');
      await callJson(`${sim.tesUrl}/service-info`);
      await callJson(`${sim.tesUrl}/service-info`);

      const { body: stats } = await callJson<SimStats>(`${sim.url}/sim/stats`);
      expect(stats.requests).toEqual({
        'GET /service-info': 2,
        'POST /tasks': 3,
        'GET /tasks': 1,
        'GET /tasks/:id': 1,
        'POST cancel': 1,
      });
      expect(stats.tasks).toMatchObject({ QUEUED: 1, CANCELED: 1, RUNNING: 0 });

      const { status, body: reset } = await callJson<SimStats>(
        `${sim.url}/sim/reset-stats`,
        'POST',
      );
      expect(status).toBe(200);
      expect(Object.values(reset.requests).every((n) => n === 0)).toBe(true);
      expect(reset.tasks.QUEUED).toBe(1);
    } finally {
      await sim.close();
    }
  });
});

describe('latency', () => {
  it('delays TES requests but not control routes', async () => {
    const sim = await startSimulator({ latencyMs: 400, logLevel: 'error' });
    try {
      let started = Date.now();
      expect(await reach(`${sim.tesUrl}/service-info`)).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      started = Date.now();
      expect(await reach(`${sim.url}/sim/stats`)).toBe(200);
      expect(Date.now() - started).toBeLessThan(300);
    } finally {
      await sim.close();
    }
  });
});
