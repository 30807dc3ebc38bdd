import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Principal } from './principal';

export const IS_PUBLIC = 'protes:auth:public';
export const ADMIN_ONLY = 'protes:auth:admin-only';

/** A route (or a controller's routes) that answers without credentials. */
export const Public = (): ClassDecorator & MethodDecorator => SetMetadata(IS_PUBLIC, true);

/**
 * Only administrators (`auth.admin`) may call it; others get 403. While authentication is off
 * the operator has chosen a trusted network, and it is open.
 */
export const AdminOnly = (): ClassDecorator & MethodDecorator => SetMetadata(ADMIN_ONLY, true);

/** What the guard established about a request. */
export interface RequestAuth {
  principal: Principal;
  /** The headers named in `auth.forwardHeaders`, for the middleware chain. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

const established = new WeakMap<object, RequestAuth>();

export function rememberAuth(request: object, auth: RequestAuth): void {
  established.set(request, auth);
}

/**
 * What the guard left for this request. A route reached without it (no guard, or a public route
 * asking who calls) is a programming error, never an anonymous caller.
 */
export function authOf(context: ExecutionContext): RequestAuth {
  const auth = established.get(context.switchToHttp().getRequest<object>());
  if (!auth) {
    throw new Error('no authenticated caller for this request: is ProtesAuthGuard the APP_GUARD?');
  }
  return auth;
}

/** The caller, as the guard established it (ANONYMOUS while authentication is off). */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => authOf(context).principal,
);

/** The request headers that `auth.forwardHeaders` lets the middleware chain see. */
export const ForwardedHeaders = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestAuth['headers'] => authOf(context).headers,
);
