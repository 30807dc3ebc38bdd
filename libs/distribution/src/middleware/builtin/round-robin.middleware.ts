import { Injectable } from '@nestjs/common';
import type { TaskContext } from '../middleware';
import { decide } from './decide';
import { ascending, healthyFirst } from './ordering';
import { type BuiltinMiddleware, NoSettings } from './settings';

/**
 * Rotation by node name: each task starts at the first healthy candidate whose name follows the
 * one the previous task started at (in code-unit order, wrapping around), and the rest follow in
 * name order. Only the last name is remembered, so a node joining or leaving the candidates takes
 * or leaves its place in the cycle without disturbing the others.
 */
@Injectable()
export class RoundRobinMiddleware implements BuiltinMiddleware {
  readonly name = 'round-robin';
  readonly description =
    'Takes the nodes in turn, by name: each task starts at the first healthy candidate whose name follows (in code-unit order, wrapping around) the one the previous task started at, and the others follow in name order. Only the last name is remembered (per gateway process), so a node that joins or leaves the candidates takes or leaves its place in the cycle without disturbing the others. Healthy nodes come before unhealthy ones.';
  readonly settingsSchema = NoSettings;
  private last = '';

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      const sorted = [...context.candidates].sort((a, b) => ascending(a.name, b.name));
      const healthy = sorted.filter((c) => c.health.healthy);
      const pool = healthy.length ? healthy : sorted;
      const next = pool.find((c) => c.name > this.last) ?? pool[0];
      if (!next) return context;
      this.last = next.name;
      const start = sorted.indexOf(next);
      const rotated = [...sorted.slice(start), ...sorted.slice(0, start)];
      return { ...context, candidates: healthyFirst(rotated) };
    });
  }
}
