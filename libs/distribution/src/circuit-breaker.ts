export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before it lets one through to try the node. */
  coolDownMs: number;
}

/**
 * A circuit breaker for one node. Closed, every call goes through; `failureThreshold` consecutive
 * failures open it. Open, no call goes through until `coolDownMs` has passed; then it is half-open
 * and lets exactly one call through (a health probe or a task), whose outcome closes it or opens it
 * again for another cool-down.
 *
 * Outcomes of calls that did not ask (the tracker following tasks already on the node) count too:
 * a success is proof the node works and closes the breaker whatever its state, a failure while
 * open starts the cool-down again.
 *
 * Why not cockatiel's CircuitBreakerPolicy: it counts only the calls it wraps (`execute`), while
 * this breaker is fed by three callers that never share a call — the prober, forwarding, and the
 * tracker's polls, whose outcomes arrive as reports — and the chain must ask "may this node take a
 * task now?" without making a call (`admits`, `tryAcquire`). Wrapping each caller in a policy would
 * give three breakers per node that disagree; reporting outcomes into cockatiel is not part of its
 * API. The state machine here is small and tested on its own (circuit-breaker.spec.ts).
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt?: number;
  private trialInFlight = false;

  constructor(
    private readonly options: BreakerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt < this.options.coolDownMs ? 'open' : 'half-open';
  }

  /** Consecutive failures so far. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Milliseconds until an open breaker turns half-open (0 unless open). */
  get remainingCoolDownMs(): number {
    if (this.openedAt === undefined) return 0;
    return Math.max(0, this.openedAt + this.options.coolDownMs - this.now());
  }

  /** Whether a call would be let through now (without taking the half-open trial). */
  get admits(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.trialInFlight);
  }

  /**
   * Asks to make a call: true when it may go ahead. In half-open state the first asker gets the
   * trial and everyone else is refused until its outcome is recorded.
   */
  tryAcquire(): boolean {
    if (!this.admits) return false;
    if (this.state === 'half-open') this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
  }

  failure(): void {
    this.failures++;
    this.trialInFlight = false;
    if (this.openedAt !== undefined || this.failures >= this.options.failureThreshold) {
      this.openedAt = this.now();
    }
  }
}
