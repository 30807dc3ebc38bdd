import {
  BadRequestException,
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthenticationError, KeysUnavailableError, PermissionError } from './auth-errors';
import { AUTH_SETTINGS } from './auth.module-definition';
import type { AuthSettings } from './auth-settings';
import { Authenticator } from './authenticator';
import { ADMIN_ONLY, IS_PUBLIC, rememberAuth } from './decorators';
import { ANONYMOUS, type Principal } from './principal';

/** A reply we can set a header on (Fastify's, or Express's). */
interface HeaderSink {
  header(name: string, value: string | string[]): unknown;
}

/** RFC 6750 allows only these characters in a quoted `error_description`. */
const quotable = (text: string) => text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');

/**
 * The application's one guard (APP_GUARD): every route needs a caller unless marked @Public().
 * With authentication off every caller is ANONYMOUS. Refusals are 401 with RFC 6750's
 * WWW-Authenticate (400 for a malformed header), 403 for a caller who may not (a scope, a claim,
 * an @AdminOnly() route), 503 while an issuer's keys cannot be fetched.
 */
@Injectable()
export class ProtesAuthGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_SETTINGS) private readonly settings: AuthSettings,
    private readonly authenticator: Authenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<{ headers: IncomingHttpHeaders }>();
    if (!this.settings.enabled) {
      rememberAuth(request, { principal: ANONYMOUS, headers: this.forwarded(request.headers) });
      return true;
    }
    let principal: Principal;
    try {
      principal = await this.authenticator.authenticate(context);
    } catch (error) {
      throw this.refusal(error, context, http.getResponse<HeaderSink>());
    }
    if (!principal.admin && this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, targets)) {
      this.logger.debug(`403 ${this.route(context)}: ${principal.owner} is no administrator`);
      throw new ForbiddenException('only administrators may use this endpoint');
    }
    rememberAuth(request, { principal, headers: this.forwarded(request.headers) });
    return true;
  }

  /** Only the allow-listed headers, which never include credentials (see authSettings). */
  private forwarded(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
    return Object.fromEntries(
      this.settings.forwardHeaders
        .filter((h) => headers[h] !== undefined)
        .map((h) => [h, headers[h]]),
    );
  }

  private refusal(error: unknown, context: ExecutionContext, reply: HeaderSink): unknown {
    if (error instanceof AuthenticationError) {
      this.logger.debug(`${error.status} ${this.route(context)}: ${error.message}`);
      void reply.header('WWW-Authenticate', this.challenges(error));
      return error.status === 400
        ? new BadRequestException(error.message)
        : new UnauthorizedException(error.message);
    }
    if (error instanceof PermissionError) {
      this.logger.debug(`403 ${this.route(context)}: ${error.message}`);
      if (error.code) {
        void reply.header(
          'WWW-Authenticate',
          `Bearer realm="${this.settings.realm}", error="${error.code}", error_description="${quotable(error.message)}"`,
        );
      }
      return new ForbiddenException(error.message);
    }
    if (error instanceof KeysUnavailableError) {
      // The keys are asked for again once the cool-down has passed.
      void reply.header('Retry-After', String(Math.ceil(this.settings.jwks.cooldownMs / 1000)));
      return new ServiceUnavailableException(error.message);
    }
    return error;
  }

  /** One challenge per scheme this service takes; the failed one says why (RFC 6750, 7617). */
  private challenges(error: AuthenticationError): string[] {
    const realm = `realm="${this.settings.realm}"`;
    return this.authenticator.schemes.map((scheme) => {
      if (scheme === 'Basic') return `Basic ${realm}, charset="UTF-8"`;
      return error.code && error.scheme === 'Bearer'
        ? `Bearer ${realm}, error="${error.code}", error_description="${quotable(error.message)}"`
        : `Bearer ${realm}`;
    });
  }

  private route(context: ExecutionContext): string {
    return `${context.getClass().name}.${context.getHandler().name}`;
  }
}
