import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let now: number;
  const breaker = () => new CircuitBreaker({ failureThreshold: 3, coolDownMs: 1000 }, () => now);
  const fail = (b: CircuitBreaker, times: number) => {
    for (let i = 0; i < times; i++) b.failure();
  };

  beforeEach(() => {
    now = 10_000;
  });

  it('stays closed and lets every call through below the threshold', () => {
    const b = breaker();
    fail(b, 2);
    expect(b.state).toBe('closed');
    expect(b.consecutiveFailures).toBe(2);
    expect([b.tryAcquire(), b.tryAcquire()]).toEqual([true, true]);
  });

  it('counts only failures in a row: a success starts the count again', () => {
    const b = breaker();
    fail(b, 2);
    b.success();
    fail(b, 2);
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
  });

  it('opens at the threshold and refuses every call during the cool-down', () => {
    const b = breaker();
    fail(b, 3);
    expect(b.state).toBe('open');
    expect(b.admits).toBe(false);
    expect(b.tryAcquire()).toBe(false);
    now += 999;
    expect(b.remainingCoolDownMs).toBe(1);
    expect(b.tryAcquire()).toBe(false);
  });

  it('is half-open after the cool-down and lets exactly one trial call through', () => {
    const b = breaker();
    fail(b, 3);
    now += 1000;
    expect(b.state).toBe('half-open');
    expect(b.admits).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(b.admits).toBe(false);
    expect(b.tryAcquire()).toBe(false);
    expect(b.remainingCoolDownMs).toBe(0);
  });

  it('closes when the trial succeeds', () => {
    const b = breaker();
    fail(b, 3);
    now += 1000;
    b.tryAcquire();
    b.success();
    expect(b.state).toBe('closed');
    expect(b.consecutiveFailures).toBe(0);
    expect([b.tryAcquire(), b.tryAcquire()]).toEqual([true, true]);
  });

  it('opens again for a whole cool-down when the trial fails', () => {
    const b = breaker();
    fail(b, 3);
    now += 1500;
    b.tryAcquire();
    b.failure();
    expect(b.state).toBe('open');
    expect(b.remainingCoolDownMs).toBe(1000);
    now += 1000;
    expect(b.tryAcquire()).toBe(true);
  });

  it('takes outcomes of calls it did not admit: a success closes it, a failure restarts the cool-down', () => {
    const b = breaker();
    fail(b, 3);
    now += 600;
    b.failure();
    now += 600;
    expect(b.state).toBe('open');
    b.success();
    expect(b.state).toBe('closed');
  });
});
