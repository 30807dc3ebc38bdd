import type { NodeCandidate } from './contract';

/*
 * What the gateway lets a plugin inject, each under a token of this package:
 *
 *   constructor(@Inject(NODE_DIRECTORY) private readonly nodes: NodeDirectory) {}
 *
 * The tokens are registered symbols (`Symbol.for`), not classes: a plugin that brings its own copy
 * of this package still names the same token as the gateway. Nothing else of the gateway (its
 * stores, its services) can be injected: these ports are the whole of what a plugin may rely on
 * from one version of proTES to the next.
 */

/** The gateway's validated configuration ({@link ProtesConfigView}). */
export const PROTES_CONFIG: unique symbol = Symbol.for('protes.middleware-sdk/config');
/** Every configured node with its health, metadata and load ({@link NodeDirectory}). */
export const NODE_DIRECTORY: unique symbol = Symbol.for('protes.middleware-sdk/node-directory');
/** The unfinished tasks of each node ({@link NodeLoad}). */
export const NODE_LOAD: unique symbol = Symbol.for('protes.middleware-sdk/node-load');
/** An HTTP client with the gateway's timeout ({@link HttpClient}). */
export const HTTP_CLIENT: unique symbol = Symbol.for('protes.middleware-sdk/http-client');

/**
 * The configuration the gateway started with, after validation and defaults (its keys are listed in
 * the proTES README, "Configuration"), deep-frozen, and without secrets: no node `credentials`, no
 * password or password hash, no user info in URLs. A plugin's own settings belong in the chain
 * entry's `settings`, not here.
 */
export type ProtesConfigView = Readonly<Record<string, unknown>>;

/** A configured node, as the directory shows it. */
export interface NodeInfo extends NodeCandidate {
  /**
   * Whether the node takes tasks now: false while its circuit breaker is open (or half-open with
   * its trial call under way). Only available nodes are ever candidates.
   */
  available: boolean;
}

/** The nodes the gateway knows: all of them, candidates or not. Read-only snapshots. */
export interface NodeDirectory {
  /** Every configured node, in configuration order. */
  list(): Promise<NodeInfo[]>;
  /** The node of this name; undefined when none is configured. */
  get(name: string): Promise<NodeInfo | undefined>;
}

/**
 * Tasks forwarded to each node that are not terminal yet, as read from the task store (at most
 * about once a second, plus what was forwarded since).
 */
export interface NodeLoad {
  /** By node name; a node without unfinished tasks may be absent. */
  all(): Promise<ReadonlyMap<string, number>>;
  /** One node's count (0 for a node without unfinished tasks, or unknown). */
  of(name: string): Promise<number>;
}

export interface HttpRequest {
  url: string;
  /** GET unless given. */
  method?: string;
  headers?: Readonly<Record<string, string>>;
  /** A string or bytes are sent as they are; anything else as JSON (with its content type). */
  body?: unknown;
  /** Milliseconds before the call is abandoned; the gateway's `forwarding.timeoutMs` by default. */
  timeoutMs?: number;
}

export interface HttpResponse<T = unknown> {
  status: number;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string>>;
  /** The JSON body parsed when the response says it is JSON, else its text. */
  body: T;
}

/**
 * HTTP calls with a bound on their time. It resolves with any status the server answers (check it);
 * it rejects when there is no answer: connection refused, DNS failure, timeout.
 */
export interface HttpClient {
  request<T = unknown>(request: HttpRequest): Promise<HttpResponse<T>>;
}
