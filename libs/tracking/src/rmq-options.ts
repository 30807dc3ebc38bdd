import { type RmqOptions, Transport } from '@nestjs/microservices';
import type { ProtesConfig } from '@protes/config';

export type BusConfig = ProtesConfig['bus'];
type RmqTransportOptions = NonNullable<RmqOptions['options']>;

/** The Nest pattern task events travel under (the queue carries nothing else). */
export const TASK_EVENT_PATTERN = 'protes.task-event';

/**
 * amqp-connection-manager reconnects on its own; it waits this long between attempts (its default
 * is the heartbeat interval, 5 s), so a restarted broker is used again within about a second.
 */
const RECONNECT_SECONDS = 1;
/** A broker or network that went silent is noticed after about two intervals. */
const HEARTBEAT_SECONDS = 5;

/**
 * What publisher and consumer must agree on: the broker, and the queue asserted with the same
 * arguments on both sides (RabbitMQ refuses a second declaration that differs). The queue is
 * durable, so that events published while no tracker runs wait for one, and survive a broker
 * restart together with the persistent messages.
 */
function shared(bus: BusConfig): RmqTransportOptions {
  if (!bus.url) throw new Error('bus.url is required with bus.driver rabbitmq');
  return {
    urls: [bus.url],
    queue: bus.queue,
    queueOptions: { durable: true },
    socketOptions: {
      heartbeatIntervalInSeconds: HEARTBEAT_SECONDS,
      reconnectTimeInSeconds: RECONNECT_SECONDS,
    },
  };
}

/** Options of the ClientProxy with which gateways publish: persistent messages. */
export function rmqPublisherOptions(bus: BusConfig): RmqOptions {
  return { transport: Transport.RMQ, options: { ...shared(bus), persistent: true } };
}

/**
 * Options of the RMQ server with which trackers consume: acknowledged by hand once handled (so an
 * event a tracker took but never handled, because it died, goes to another tracker), at most
 * `bus.prefetch` unacknowledged at a time per tracker.
 */
export function rmqConsumerOptions(bus: BusConfig): RmqOptions {
  return {
    transport: Transport.RMQ,
    options: { ...shared(bus), noAck: false, prefetchCount: bus.prefetch },
  };
}
