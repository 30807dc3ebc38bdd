import type { NodeCandidate } from '../middleware';

/** Uniform numbers in [0, 1), like Math.random; a token so that tests can seed it. */
export type RandomSource = () => number;
export const RANDOM_SOURCE = Symbol('RANDOM_SOURCE');

export function ascending<T extends number | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Healthy candidates before unhealthy ones, each group in its given order. Every ranking
 * built-in ends with this: an unhealthy node may have recovered, so it stays as a last resort,
 * but ranking it first would cost a failed attempt (up to a timeout) on every task.
 */
export function healthyFirst(candidates: readonly NodeCandidate[]): NodeCandidate[] {
  return [
    ...candidates.filter((c) => c.health.healthy),
    ...candidates.filter((c) => !c.health.healthy),
  ];
}

/** Fisher–Yates: every order equally likely. */
export function shuffle<T>(items: readonly T[], random: RandomSource): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
