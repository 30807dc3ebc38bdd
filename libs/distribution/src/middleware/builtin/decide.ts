import type { TaskContext } from '../middleware';

/**
 * Runs a synchronous decision as the chain expects it: a promise, so that whatever the decision
 * throws (a rejection, an error) reaches the chain as a rejected promise and never as a throw.
 */
export function decide<P>(run: () => TaskContext<P>): Promise<TaskContext<P>> {
  return new Promise((resolve) => resolve(run()));
}
