import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { SIM_CONFIG, type SimConfig } from './sim-config';

export type SimOutageMode = 'error' | 'refuse';
export const SIM_OUTAGE_MODES: readonly SimOutageMode[] = ['error', 'refuse'];

export interface SimOutageState {
  mode: 'none' | SimOutageMode;
  remaining_ms: number;
}

/** How often, and how long apart, listening again is retried if the port is briefly taken. */
const RELISTEN_ATTEMPTS = 50;
const RELISTEN_DELAY_MS = 100;

/**
 * Simulated outages. `error`: the node is up but answers 503 on every TES route. `refuse`: the node
 * stops listening, so connections are refused, and listens again on the same port afterwards.
 * Keep-alive connections are closed too, or a client with a pooled connection would never notice.
 */
@Injectable()
export class SimOutageService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SimOutageService.name);
  private errorUntil = 0;
  private refuseUntil = 0;
  private refuseTimer?: NodeJS.Timeout;
  private port?: number;
  private stopped = false;
  /** Responses being written, so those in flight when a refusal starts close their connection. */
  private readonly inFlight = new Set<ServerResponse>();
  private accepting: Promise<void> = Promise.resolve();
  private markAccepting: () => void = () => undefined;

  constructor(
    @Inject(SIM_CONFIG) private readonly config: SimConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    this.server().prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      if (this.refusing()) res.setHeader('connection', 'close');
      this.inFlight.add(res);
      res.once('close', () => this.inFlight.delete(res));
    });
  }

  onModuleDestroy(): void {
    this.stopped = true;
    if (this.refuseTimer) clearTimeout(this.refuseTimer);
    this.refuseTimer = undefined;
  }

  /** Answer 503 on TES routes for `ms` from now; 0 ends an error outage. */
  error(ms: number): void {
    this.errorUntil = ms > 0 ? Date.now() + ms : 0;
  }

  erroring(): boolean {
    return Date.now() < this.errorUntil;
  }

  errorRemainingMs(): number {
    return Math.max(0, this.errorUntil - Date.now());
  }

  refusing(): boolean {
    return this.refuseTimer !== undefined;
  }

  /** Resolves when the node accepts connections (at once, unless a refusal is under way). */
  whenAccepting(): Promise<void> {
    return this.accepting;
  }

  state(): SimOutageState {
    const now = Date.now();
    if (this.refusing())
      return { mode: 'refuse', remaining_ms: Math.max(0, this.refuseUntil - now) };
    if (this.erroring()) return { mode: 'error', remaining_ms: this.errorRemainingMs() };
    return { mode: 'none', remaining_ms: 0 };
  }

  /**
   * Stop accepting connections for `ms`, then listen again on the same port. A refusal already
   * under way is extended if this one ends later.
   */
  refuse(ms: number): void {
    if (this.stopped || ms <= 0) return;
    const until = Date.now() + ms;
    if (this.refusing()) {
      this.refuseUntil = Math.max(this.refuseUntil, until);
      this.scheduleRelisten();
      return;
    }
    const server = this.server();
    const address = server.address();
    if (address === null || typeof address === 'string') {
      this.logger.warn('refuse outage asked for while the node is not listening: ignored');
      return;
    }
    this.port = address.port;
    this.refuseUntil = until;
    this.accepting = new Promise((resolve) => (this.markAccepting = resolve));
    this.scheduleRelisten();

    server.close();
    server.closeIdleConnections();
    for (const res of this.inFlight) {
      if (!res.headersSent) {
        res.setHeader('connection', 'close');
      } else {
        const socket = res.socket;
        res.once('finish', () => socket?.end());
      }
    }
    // A response that finished just now leaves its socket idle a tick later: close that one too.
    setImmediate(() => {
      if (this.refusing()) server.closeIdleConnections();
    });
    this.logger.log(`refusing connections for ${ms} ms`);
  }

  private scheduleRelisten(): void {
    if (this.refuseTimer) clearTimeout(this.refuseTimer);
    this.refuseTimer = setTimeout(
      () => this.relisten(0),
      Math.max(0, this.refuseUntil - Date.now()),
    );
  }

  private relisten(attempt: number): void {
    if (this.stopped) return;
    const server = this.server();
    if (server.listening) {
      // Listening again already (a refusal extended while the port was being reopened).
      this.refuseTimer = undefined;
      return;
    }
    const onListening = () => {
      server.off('error', onError);
      this.refuseTimer = undefined;
      this.logger.log(`accepting connections again on port ${this.port}`);
      this.markAccepting();
    };
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (attempt + 1 >= RELISTEN_ATTEMPTS) {
        this.refuseTimer = undefined;
        this.logger.error(`could not listen again on port ${this.port}: ${error.message}`);
        return;
      }
      this.refuseTimer = setTimeout(() => this.relisten(attempt + 1), RELISTEN_DELAY_MS);
    };
    server.once('listening', onListening);
    server.once('error', onError);
    server.listen(this.port, this.config.host);
  }

  private server(): Server {
    return this.adapterHost.httpAdapter.getHttpServer() as Server;
  }
}
