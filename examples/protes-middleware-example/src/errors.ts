/**
 * A refusal of the task: the client gets `status` (a 4xx) and the message. proTES knows it by its
 * name, because a package has no access to proTES's own MiddlewareRejection class at runtime. Any
 * other error means the middleware could not decide, and a fallback may take over.
 */
export class TaskRejection extends Error {
  override readonly name = 'MiddlewareRejection';

  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}
