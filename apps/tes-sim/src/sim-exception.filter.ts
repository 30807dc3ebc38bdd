import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { ErrorResponse } from '@protes/tes';
import type { FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/** Turns every error, ours, Nest's or Fastify's, into a TES-style error body. */
@Catch()
export class SimExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('SimExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const body = this.toBody(exception);
    void reply.status(body.status_code).send(body);
  }

  private toBody(exception: unknown): ErrorResponse {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      if (isRecord(response) && typeof response.status_code === 'number')
        return response as ErrorResponse;
      const message = isRecord(response) ? response.message : response;
      return {
        status_code: status,
        msg: Array.isArray(message)
          ? message.join('; ')
          : typeof message === 'string'
            ? message
            : exception.message,
      };
    }
    // Fastify's own client errors (a body that is not JSON, a wrong content type) carry a status.
    if (
      isRecord(exception) &&
      typeof exception.statusCode === 'number' &&
      exception.statusCode >= 400 &&
      exception.statusCode < 500
    ) {
      return { status_code: exception.statusCode, msg: String(exception.message) };
    }
    const errorId = randomUUID();
    this.logger.error(
      `unexpected error ${errorId}: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`,
    );
    return { status_code: 500, msg: 'internal error in the simulator', error_id: errorId };
  }
}
