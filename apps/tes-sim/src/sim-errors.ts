import { HttpException } from '@nestjs/common';
import type { ErrorResponse, FieldError } from '@protes/tes';

/** An HTTP error whose body is already the TES-style error body. */
export class TesHttpError extends HttpException {
  constructor(status: number, msg: string, errors?: FieldError[]) {
    const body: ErrorResponse = { status_code: status, msg };
    if (errors && errors.length > 0) body.errors = errors;
    super(body, status);
  }
}

export const badRequest = (msg: string, errors: FieldError[]): TesHttpError =>
  new TesHttpError(400, msg, errors);
