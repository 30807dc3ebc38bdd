import { Logger } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { connect } from 'amqplib';
import { NEVER, type Observable, of, throwError } from 'rxjs';
import {
  type BusConfig,
  rmqConsumerOptions,
  rmqPublisherOptions,
  TASK_EVENT_PATTERN,
} from './rmq-options';
import { RmqTaskEventBus } from './rmq-task-event-bus';
import { lockBroker } from './rmq-test-lock';

/** A RabbitMQ to test against (CI starts one); without it the broker tests skip and say so. */
const AMQP_URL = process.env.TEST_AMQP_URL;

const bus = (url: string, queue = 'protes.test'): BusConfig => ({
  driver: 'rabbitmq',
  url,
  queue,
  prefetch: 4,
});

/**
 * A stand-in for the ClientProxy, for what a real one cannot be made to do on demand: throw from
 * emit, fail, or never settle. The real client is used further down.
 */
function fakeClient(emit: () => Observable<unknown>) {
  const sent: unknown[] = [];
  const client = {
    emit: jest.fn((pattern: string, data: unknown) => {
      sent.push({ pattern, data });
      return emit();
    }),
    close: jest.fn(() => Promise.resolve()),
    status: NEVER,
    connect: jest.fn(() => Promise.resolve()),
  };
  return { client, sent, proxy: client as unknown as ClientProxy };
}

const until = async (what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

let warn: jest.SpyInstance;
let log: jest.SpyInstance;
beforeEach(() => {
  warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

describe('RmqTaskEventBus', () => {
  it('sends each event under the task-event pattern, with its type and task id only', () => {
    const { proxy, sent } = fakeClient(() => of(undefined));
    const events = new RmqTaskEventBus(proxy);
    events.publish({ type: 'queued', taskId: 'a', extra: 'x' } as never);
    events.publish({ type: 'cancel-requested', taskId: 'b' });
    expect(sent).toEqual([
      { pattern: TASK_EVENT_PATTERN, data: { type: 'queued', taskId: 'a' } },
      { pattern: TASK_EVENT_PATTERN, data: { type: 'cancel-requested', taskId: 'b' } },
    ]);
    expect(events.pending).toBe(0);
  });

  it.each([
    ['throws', () => throwSync()],
    ['fails', () => throwError(() => new Error('Connection lost'))],
    ['never settles', () => NEVER],
  ])('publish returns at once and does not throw when the client %s', (_case, emit) => {
    const events = new RmqTaskEventBus(fakeClient(emit).proxy);
    expect(() => events.publish({ type: 'queued', taskId: 'a' })).not.toThrow();
  });

  it('warns once when publishing starts failing, and says how many were lost when it recovers', () => {
    let fail = true;
    const { proxy } = fakeClient(() =>
      fail ? throwError(() => new Error('Connection lost')) : of(undefined),
    );
    const events = new RmqTaskEventBus(proxy);
    for (const taskId of ['a', 'b', 'c']) events.publish({ type: 'queued', taskId });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('Connection lost');
    fail = false;
    events.publish({ type: 'queued', taskId: 'd' });
    events.publish({ type: 'queued', taskId: 'e' });
    expect(log).toHaveBeenCalledTimes(1);
    expect(String(log.mock.calls[0][0])).toContain('3 were not delivered');
    fail = true;
    events.publish({ type: 'queued', taskId: 'f' });
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('drops events beyond a bound while the broker does not confirm', () => {
    const { proxy, client } = fakeClient(() => NEVER);
    const events = new RmqTaskEventBus(proxy, 3);
    for (let i = 0; i < 5; i++) events.publish({ type: 'queued', taskId: String(i) });
    expect(client.emit).toHaveBeenCalledTimes(3);
    expect(events.pending).toBe(3);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('closes the client at shutdown and publishes nothing after (it would reconnect)', async () => {
    const { proxy, client } = fakeClient(() => of(undefined));
    const events = new RmqTaskEventBus(proxy);
    await events.onApplicationShutdown();
    events.publish({ type: 'queued', taskId: 'a' });
    expect(client.close).toHaveBeenCalledTimes(1);
    expect(client.emit).not.toHaveBeenCalled();
  });

  it('subscribe delivers nothing: the tracker processes consume the queue', () => {
    const { proxy } = fakeClient(() => of(undefined));
    const events = new RmqTaskEventBus(proxy);
    const seen: string[] = [];
    const subscription = events.subscribe((e) => seen.push(e.taskId));
    events.publish({ type: 'queued', taskId: 'a' });
    expect(seen).toEqual([]);
    subscription.unsubscribe();
  });

  it('with no broker to reach, neither throws nor waits, and shuts down cleanly', async () => {
    // Port 1 on the loopback refuses connections at once.
    const events = RmqTaskEventBus.fromConfig(bus('amqp://127.0.0.1:1'));
    const started = Date.now();
    for (let i = 0; i < 100; i++) events.publish({ type: 'queued', taskId: String(i) });
    expect(Date.now() - started).toBeLessThan(100);
    await until('every event to fail', () => events.pending === 0);
    expect(warn).toHaveBeenCalledTimes(1);
    await events.onApplicationShutdown();
  });
});

describe('RMQ options', () => {
  it('let publisher and consumer declare the same durable queue on the same broker', () => {
    const config = bus('amqp://u:p@rabbit:5672/v', 'protes.q');
    const publisher = rmqPublisherOptions(config).options;
    const consumer = rmqConsumerOptions(config).options;
    for (const options of [publisher, consumer]) {
      expect(options?.urls).toEqual(['amqp://u:p@rabbit:5672/v']);
      expect(options?.queue).toBe('protes.q');
      expect(options?.queueOptions).toEqual({ durable: true });
    }
    expect(publisher?.persistent).toBe(true);
    // The client consumes replies on amq.rabbitmq.reply-to, which allows only no-ack consumers.
    expect(publisher?.noAck).toBeUndefined();
    expect(consumer).toMatchObject({ noAck: false, prefetchCount: 4 });
  });

  it('refuse a configuration without a URL', () => {
    expect(() => rmqPublisherOptions({ ...bus(''), url: undefined })).toThrow(/bus\.url/);
  });
});

if (AMQP_URL) {
  describe('RmqTaskEventBus with RabbitMQ', () => {
    const queue = `protes.test.bus.${process.pid}.${Date.now().toString(36)}`;
    let unlock: (() => void) | undefined;

    // The distributed end-to-end test restarts the broker; not while this runs.
    beforeAll(async () => {
      unlock = await lockBroker();
    }, 200_000);

    afterAll(async () => {
      try {
        const connection = await connect(AMQP_URL);
        const channel = await connection.createChannel();
        await channel.deleteQueue(queue);
        await connection.close();
      } finally {
        unlock?.();
      }
    });

    it('publishes each event as a persistent message on the durable queue', async () => {
      const events = RmqTaskEventBus.fromConfig(bus(AMQP_URL, queue));
      events.publish({ type: 'queued', taskId: 'one' });
      events.publish({ type: 'cancel-requested', taskId: 'two' });
      await until('the broker to confirm both', () => events.pending === 0);
      await events.onApplicationShutdown();
      expect(warn).not.toHaveBeenCalled();

      const connection = await connect(AMQP_URL);
      try {
        const channel = await connection.createChannel();
        // Declaring it durable again succeeds only if it is durable (else PRECONDITION_FAILED).
        const { messageCount } = await channel.assertQueue(queue, { durable: true });
        expect(messageCount).toBe(2);
        const received: unknown[] = [];
        for (let message = await channel.get(queue); message; message = await channel.get(queue)) {
          expect(message.properties.deliveryMode).toBe(2);
          received.push(JSON.parse(message.content.toString()));
          channel.ack(message);
        }
        expect(received).toEqual([
          { pattern: TASK_EVENT_PATTERN, data: { type: 'queued', taskId: 'one' } },
          { pattern: TASK_EVENT_PATTERN, data: { type: 'cancel-requested', taskId: 'two' } },
        ]);
      } finally {
        await connection.close();
      }
    });
  });
} else {
  console.warn('TEST_AMQP_URL not set: RabbitMQ tests of RmqTaskEventBus skipped');
  describe('RmqTaskEventBus with RabbitMQ', () => {
    it.todo('TEST_AMQP_URL not set: RabbitMQ tests skipped');
  });
}

function throwSync(): never {
  throw new Error('emit failed');
}
