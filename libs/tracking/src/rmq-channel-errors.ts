import { ClientRMQ, type RmqOptions } from '@nestjs/microservices';
import type { AmqpConnectionManager } from 'amqp-connection-manager';

/**
 * Makes every channel `manager` opens report its 'error' events to `report` instead of ending the
 * process. amqp-connection-manager's channel wrappers emit 'error' when a channel cannot be opened
 * or set up, as when the connection closes meanwhile (a process stopped right after it started:
 * "Channel ended, no reply will be forthcoming"). Nest's RMQ client and server listen to no such
 * event, and an 'error' event nobody listens to is thrown. The wrapper opens its channel again on
 * the next connection by itself, so there is nothing to do but say so.
 */
export function reportChannelErrors(
  manager: AmqpConnectionManager,
  report: (error: Error) => void,
): AmqpConnectionManager {
  const createChannel = manager.createChannel.bind(manager);
  manager.createChannel = (options) => {
    const channel = createChannel(options);
    channel.on('error', report);
    return channel;
  };
  return manager;
}

/** Nest's RMQ client, whose channels report their errors to `onChannelError` (see above). */
export class ReportingRmqClient extends ClientRMQ {
  constructor(
    options: NonNullable<RmqOptions['options']>,
    private readonly onChannelError: (error: Error) => void,
  ) {
    super(options);
  }

  override createClient(): AmqpConnectionManager {
    // Nest types its connection manager as `any` (amqp-connection-manager is an optional peer).
    const manager = super.createClient() as AmqpConnectionManager;
    return reportChannelErrors(manager, (error) => this.onChannelError(error));
  }
}
