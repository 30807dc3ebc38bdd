import type { TesTask, TesView } from './models';

/**
 * Shapes a FULL task into the view a client asked for, exactly as TES 1.1 defines them:
 * MINIMAL is id and state only; BASIC is everything but executor stdout/stderr, input content and
 * system logs; FULL is everything.
 */
export function toView(task: TesTask, view: TesView): TesTask {
  switch (view) {
    case 'MINIMAL':
      return { id: task.id, state: task.state };
    case 'BASIC': {
      const basic: TesTask = { ...task };
      if (task.inputs) basic.inputs = task.inputs.map(({ content: _content, ...input }) => input);
      if (task.logs) {
        basic.logs = task.logs.map(({ system_logs: _system, ...log }) => ({
          ...log,
          logs: log.logs.map(({ stdout: _out, stderr: _err, ...executorLog }) => executorLog),
        }));
      }
      return basic;
    }
    case 'FULL':
      return task;
  }
}
