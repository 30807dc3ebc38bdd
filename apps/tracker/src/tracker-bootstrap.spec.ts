import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, loadConfig } from '@protes/config';
import { RmqTaskEventBus, TASK_EVENT_PATTERN, TrackerService } from '@protes/tracking';
import { lockBroker } from '@protes/tracking/rmq-test-lock';
import { connect } from 'amqplib';
import { createTracker, startTracker } from './tracker-bootstrap';

/** A RabbitMQ to test against (CI starts one); without it those tests skip and say so. */
const AMQP_URL = process.env.TEST_AMQP_URL;

const until = async (what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

describe('createTracker', () => {
  it('refuses the in-process bus, naming the key and its variable', async () => {
    const error = await createTracker(loadConfig({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('bus.driver');
    expect((error as Error).message).toContain('PROTES_BUS__DRIVER');
  });
});

if (AMQP_URL) {
  describe('the tracker app with RabbitMQ', () => {
    const queue = `protes.test.tracker.${process.pid}.${Date.now().toString(36)}`;
    const config = loadConfig({
      PROTES_BUS__DRIVER: 'rabbitmq',
      PROTES_BUS__URL: AMQP_URL,
      PROTES_BUS__QUEUE: queue,
      PROTES_SERVER__PORT: '0',
      PROTES_STORE__SQLITE_PATH: ':memory:',
      PROTES_LOG__LEVEL: 'fatal',
    });
    let app: NestFastifyApplication | undefined;
    let url = '';
    let pollSoon: jest.SpyInstance;

    /** Ready messages and consumers of the queue, as the broker counts them (none: no queue). */
    async function queueState(): Promise<{ messageCount: number; consumerCount: number }> {
      const connection = await connect(AMQP_URL ?? '');
      try {
        const channel = await connection.createChannel();
        // A missing queue closes the channel with an error event besides the rejection.
        channel.on('error', () => undefined);
        return await channel.checkQueue(queue).catch(() => ({ messageCount: 0, consumerCount: 0 }));
      } finally {
        await connection.close().catch(() => undefined);
      }
    }

    let unlock: (() => void) | undefined;

    beforeAll(async () => {
      // The distributed end-to-end test restarts the broker; not while this runs.
      unlock = await lockBroker();
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      pollSoon = jest.spyOn(TrackerService.prototype, 'pollSoon');
      ({ app, url } = await startTracker(config));
    }, 200_000);

    afterAll(async () => {
      try {
        await app?.close();
        const connection = await connect(AMQP_URL);
        await (await connection.createChannel()).deleteQueue(queue);
        await connection.close();
      } finally {
        unlock?.();
        jest.restoreAllMocks();
      }
    });

    it('consumes the queue and reports store and bus up', async () => {
      await until('the consumer', async () => (await queueState()).consumerCount === 1);
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        status: 'ok',
        details: { store: { status: 'up' }, bus: { status: 'up', queue } },
      });
      expect(await (await fetch(`${url}/health/live`)).json()).toEqual({ status: 'ok' });
    });

    it('hands every event a gateway publishes to the tracker and acknowledges it', async () => {
      const events = RmqTaskEventBus.fromConfig(config.bus);
      const ids = Array.from({ length: 50 }, (_, i) => `task-${i}`);
      for (const taskId of ids) events.publish({ type: 'queued', taskId });
      await until('every event to reach the tracker', () =>
        ids.every((id) => pollSoon.mock.calls.some(([called]) => called === id)),
      );
      await events.onApplicationShutdown();
      await until('the queue to drain', async () => (await queueState()).messageCount === 0);
    });

    it('acknowledges and drops a message that is not a task event', async () => {
      const connection = await connect(AMQP_URL);
      const channel = await connection.createChannel();
      channel.sendToQueue(queue, Buffer.from('not json'));
      channel.sendToQueue(
        queue,
        Buffer.from(JSON.stringify({ pattern: TASK_EVENT_PATTERN, data: { nope: 1 } })),
      );
      await connection.close();
      await until('the queue to drain', async () => (await queueState()).messageCount === 0);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    });

    it('stops consuming when it shuts down', async () => {
      await app?.close();
      app = undefined;
      await until('no consumer', async () => (await queueState()).consumerCount === 0);
    });
  });
} else {
  console.warn('TEST_AMQP_URL not set: tests of the tracker app with RabbitMQ skipped');
  describe('the tracker app with RabbitMQ', () => {
    it.todo('TEST_AMQP_URL not set: tests with RabbitMQ skipped');
  });
}
