import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { currentRequestId } from '@protes/server';
import { Subscription } from 'rxjs';
import { ReportingRmqClient } from './rmq-channel-errors';
import { type BusConfig, rmqPublisherOptions, TASK_EVENT_PATTERN } from './rmq-options';
import { type TaskEvent, TaskEventBus } from './task-events';

/** Beyond this many events waiting for the broker's confirmation, new ones are dropped. */
const MAX_IN_FLIGHT = 10_000;

/**
 * Distributed mode, gateway side: each event becomes a persistent message on the durable queue,
 * through a Nest ClientProxy (Transport.RMQ, amqp-connection-manager underneath, which reconnects
 * by itself). The tracker processes consume the queue (apps/tracker).
 *
 * Events are hints, the store is the truth: `publish` returns at once and never throws. While the
 * broker cannot be reached the events are dropped (the client fails them at once) and counted; the
 * trackers find those tasks in the store on their next claim. One warning when publishing starts
 * failing and one line when it works again, not one per event.
 */
export class RmqTaskEventBus extends TaskEventBus implements OnApplicationShutdown {
  private readonly logger = new Logger('TaskEventBus');
  private inFlight = 0;
  /** Events not delivered since publishing last failed; undefined while publishing works. */
  private undelivered?: number;
  private closed = false;
  /** The broker connection is up (Nest's RMQ client status; it reconnects by itself). */
  private connectedNow = false;

  constructor(
    private readonly client: Pick<ClientProxy, 'emit' | 'connect' | 'close' | 'status'>,
    private readonly maxInFlight = MAX_IN_FLIGHT,
  ) {
    super();
    client.status.subscribe((status) => {
      this.connectedNow = status === 'connected' || status === 'unblocked';
    });
  }

  static fromConfig(bus: BusConfig): RmqTaskEventBus {
    const { options } = rmqPublisherOptions(bus);
    if (!options) throw new Error('no RMQ options');
    const client = new ReportingRmqClient(options, (error) => events.channelFailed(error));
    const events = new RmqTaskEventBus(client);
    return events;
  }

  publish(event: TaskEvent): void {
    // A closed ClientProxy would open a new connection on emit.
    if (this.closed) return;
    if (this.inFlight >= this.maxInFlight) {
      this.failed(new Error(`${this.inFlight} events are waiting for the broker already`));
      return;
    }
    this.inFlight++;
    try {
      // emit() is hot: it connects (once) and sends whether or not anyone subscribes.
      const requestId = event.requestId ?? currentRequestId();
      const message = { type: event.type, taskId: event.taskId, ...(requestId && { requestId }) };
      this.client.emit(TASK_EVENT_PATTERN, message).subscribe({
        error: (error: unknown) => {
          this.inFlight--;
          this.failed(error);
        },
        complete: () => {
          this.inFlight--;
          this.delivered();
        },
      });
    } catch (error) {
      this.inFlight--;
      this.failed(error);
    }
  }

  /**
   * Nothing comes back to the publishing process: the queue's consumers are the tracker
   * processes, whose RMQ server hands each event to their TrackerService.
   */
  subscribe(_handler: (event: TaskEvent) => void): Subscription {
    return new Subscription();
  }

  /** Events handed to the client whose fate is not known yet. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Whether the broker connection is up (for /health). While it is not, the client is asked to
   * connect: it reconnects by itself once connected, but not after a first attempt failed.
   */
  connected(): boolean {
    if (!this.connectedNow && !this.closed) this.client.connect().catch(() => undefined);
    return this.connectedNow;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.client.close();
  }

  /** The publishing channel could not be opened; it is opened again on the next connection. */
  private channelFailed(error: Error): void {
    if (!this.closed) this.logger.warn(`the publishing channel failed: ${error.message}`);
  }

  private failed(error: unknown): void {
    if (this.undelivered === undefined) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(
        `cannot publish task events to RabbitMQ (${reason}); trackers will find the tasks in the store`,
      );
    }
    this.undelivered = (this.undelivered ?? 0) + 1;
  }

  private delivered(): void {
    if (this.undelivered === undefined) return;
    this.logger.log(
      `publishing task events to RabbitMQ again; ${this.undelivered} were not delivered meanwhile`,
    );
    this.undelivered = undefined;
  }
}
