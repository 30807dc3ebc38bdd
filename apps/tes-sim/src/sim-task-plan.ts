import type { FieldError, Validation } from '@protes/tes';
import { SIM_FAILURE_KINDS } from './sim-config';

/** How a simulated task ends. */
export const SIM_OUTCOMES = ['COMPLETE', ...SIM_FAILURE_KINDS] as const;
export type SimOutcome = (typeof SIM_OUTCOMES)[number];

/** Tags a test sets on a task to decide its fate, whatever the node's failure rate. */
export const SIM_TAGS = {
  outcome: 'sim.outcome',
  exitCode: 'sim.exit_code',
  runMs: 'sim.run_ms',
} as const;

export interface ForcedPlan {
  outcome?: SimOutcome;
  exitCode?: number;
  runMs?: number;
}

const MAX_RUN_MS = 24 * 60 * 60 * 1000;

/**
 * Reads the `sim.*` tags. A bad value is refused at submission (400) rather than ignored, so a test
 * with a typo fails loudly instead of passing by the failure rate's luck.
 */
export function readSimTags(tags: Record<string, string> | undefined): Validation<ForcedPlan> {
  const plan: ForcedPlan = {};
  const errors: FieldError[] = [];
  const field = (tag: string) => `tags.${tag}`;
  const outcome = tags?.[SIM_TAGS.outcome];
  const exitCode = tags?.[SIM_TAGS.exitCode];
  const runMs = tags?.[SIM_TAGS.runMs];

  if (outcome !== undefined) {
    const upper = outcome.trim().toUpperCase();
    if ((SIM_OUTCOMES as readonly string[]).includes(upper)) plan.outcome = upper as SimOutcome;
    else
      errors.push({
        field: field(SIM_TAGS.outcome),
        reason: `must be one of ${SIM_OUTCOMES.join(', ')}`,
      });
  }
  if (exitCode !== undefined) {
    const value = Number(exitCode.trim());
    if (!/^-?\d+$/.test(exitCode.trim()) || value < -(2 ** 31) || value >= 2 ** 31) {
      errors.push({ field: field(SIM_TAGS.exitCode), reason: 'must be an integer (int32)' });
    } else {
      plan.exitCode = value;
    }
  }
  if (runMs !== undefined) {
    const value = Number(runMs.trim());
    if (!/^\d+$/.test(runMs.trim()) || value > MAX_RUN_MS) {
      errors.push({
        field: field(SIM_TAGS.runMs),
        reason: `must be an integer from 0 to ${MAX_RUN_MS}`,
      });
    } else {
      plan.runMs = value;
    }
  }

  // An exit code alone decides the outcome; with an outcome it must agree with it.
  if (plan.exitCode !== undefined) {
    if (plan.outcome === undefined) {
      plan.outcome = plan.exitCode === 0 ? 'COMPLETE' : 'EXECUTOR_ERROR';
    } else if (plan.outcome === 'COMPLETE' && plan.exitCode !== 0) {
      errors.push({
        field: field(SIM_TAGS.exitCode),
        reason: 'must be 0 when sim.outcome is COMPLETE',
      });
    } else if (plan.outcome === 'EXECUTOR_ERROR' && plan.exitCode === 0) {
      errors.push({
        field: field(SIM_TAGS.exitCode),
        reason: 'must not be 0 when sim.outcome is EXECUTOR_ERROR',
      });
    } else if (plan.outcome === 'SYSTEM_ERROR' || plan.outcome === 'PREEMPTED') {
      errors.push({
        field: field(SIM_TAGS.exitCode),
        reason: 'applies only when sim.outcome is COMPLETE or EXECUTOR_ERROR (no executor exits)',
      });
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: plan };
}
