import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { TaskRejectedException } from '@protes/distribution';
import type { ErrorResponse, FieldError } from '@protes/tes';
import type { FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';

/** A 400 that names each offending field and why. */
export class InvalidRequestException extends HttpException {
  constructor(readonly errors: FieldError[]) {
    super(
      `invalid request: ${errors.map((e) => `${e.field} ${e.reason}`).join('; ')}`,
      HttpStatus.BAD_REQUEST,
    );
  }
}

/** Turns any error into the same JSON body; an unexpected one gets an id that is also logged. */
export function toErrorResponse(error: unknown, logger: Logger): ErrorResponse {
  if (error instanceof InvalidRequestException) {
    return { status_code: error.getStatus(), msg: error.message, errors: error.errors };
  }
  if (error instanceof TaskRejectedException && error.errors.length) {
    return { status_code: error.getStatus(), msg: error.message, errors: error.errors };
  }
  if (error instanceof HttpException) {
    const response = error.getResponse();
    const msg = typeof response === 'string' ? response : error.message;
    return { status_code: error.getStatus(), msg };
  }
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own refusals: unparseable JSON, body too large, wrong content type.
    return { status_code: status, msg: (error as Error).message };
  }
  const errorId = randomUUID();
  logger.error(`unexpected error ${errorId}: ${(error as Error)?.stack ?? String(error)}`);
  return { status_code: 500, msg: 'internal server error', error_id: errorId };
}

@Catch()
export class TesExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const body = toErrorResponse(exception, this.logger);
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    // A refusal that may not hold later (a node the client asked for is down): when to ask again.
    if (exception instanceof TaskRejectedException && exception.retryAfterSeconds !== undefined) {
      void reply.header('Retry-After', String(exception.retryAfterSeconds));
    }
    void reply.status(body.status_code).send(body);
  }
}
