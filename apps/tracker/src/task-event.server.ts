import type { OnModuleDestroy } from '@nestjs/common';
import { ServerRMQ } from '@nestjs/microservices';
import { type BusConfig, reportChannelErrors, rmqConsumerOptions } from '@protes/tracking';
import type { AmqpConnectionManager } from 'amqp-connection-manager';

/** The part of an amqplib channel this class listens to. */
interface ClosableChannel {
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Nest's RMQ transport server (Transport.RMQ, amqp-connection-manager underneath), as the tracker
 * uses it: it knows whether it is consuming right now (for /health), and it stops consuming as the
 * application begins to shut down, before the tracker stops and releases its leases, so that the
 * events it has not acknowledged go back to the queue for the other trackers.
 *
 * amqp-connection-manager reconnects after a broker restart or a network cut and sets the channel
 * up again (queue, prefetch, consumer), so consuming resumes by itself.
 */
export class TaskEventServer extends ServerRMQ implements OnModuleDestroy {
  private connected = false;
  private channelOpen = false;
  private closing?: Promise<void>;

  constructor(
    options: ConstructorParameters<typeof ServerRMQ>[0],
    readonly queueName: string,
  ) {
    super(options);
    this.status.subscribe((status) => {
      this.connected = (status as string) !== 'disconnected';
      if (!this.connected) this.channelOpen = false;
    });
  }

  static fromConfig(bus: BusConfig): TaskEventServer {
    const { options } = rmqConsumerOptions(bus);
    if (!options) throw new Error('no RMQ options');
    return new TaskEventServer(options, bus.queue);
  }

  /** Connected to the broker, with the queue's consumer set up on an open channel. */
  get consuming(): boolean {
    return this.connected && this.channelOpen;
  }

  // Runs on the first connection and again on every reconnection.
  override async setupChannel(channel: ClosableChannel, callback: () => void): Promise<void> {
    await super.setupChannel(channel, callback);
    this.channelOpen = true;
    channel.once('close', () => {
      this.channelOpen = false;
    });
  }

  override async createClient<T>(): Promise<T> {
    const manager = await super.createClient<AmqpConnectionManager>();
    // A channel that fails while the server stops (stopped right after it started) is expected;
    // one that fails otherwise is opened again on the next connection.
    return reportChannelErrors(manager, (error) => {
      if (this.closing) this.logger.debug?.(`channel closed while stopping: ${error.message}`);
      else
        this.logger.warn(`the task-event channel failed, reopened on reconnect: ${error.message}`);
    }) as T;
  }

  /** Once only: Nest closes the transport again when it disposes of the application. */
  override close(): Promise<void> {
    this.channelOpen = false;
    this.closing ??= super.close();
    return this.closing;
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }
}
