import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ProtesConfig } from '@protes/config';
import type { FastifyRequest } from 'fastify';

/** Probes and the Prometheus scrape: called often, by machines, and never by a user. */
const UNLIMITED_ROUTES: ReadonlySet<string> = new Set(['/health', '/health/live', '/metrics']);

/**
 * Who a request's credential stands for in the request limit: an opaque key (a digest, never the
 * credential itself), or undefined when the request counts against its address.
 */
export type CallerKey = (request: FastifyRequest) => string | undefined;

/**
 * What only the public gateway needs, on top of the protocol every proTES process speaks (the
 * tracker and the simulator answer no browser and no stranger): a request limit per identity
 * (429 with Retry-After), security headers, and CORS when origins are configured. Called before
 * the application is initialized, so that the limit applies to every route. Requests count against
 * their caller's key when `callerOf` gives one (users behind one address are apart, and one user
 * is one user from anywhere), else against their address (see Authenticator.callerKey).
 */
export async function installHardening(
  app: NestFastifyApplication,
  { rateLimit: limit, cors: crossOrigin }: ProtesConfig['server'],
  callerOf: CallerKey,
): Promise<void> {
  // Nest's own security headers (helmet's headers and defaults): worked out once here and written
  // by one request hook that runs before every other, so refusals made while routing (404, 405,
  // 414) carry them too. Pages the gateway serves (the status page, /docs) load their scripts and
  // styles from the gateway itself; nothing inline, nothing from elsewhere. Plain HTTP deployments
  // exist (the demo, a trusted network), so browsers are not told to upgrade to HTTPS.
  app.useSecurityHeaders({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        fontSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        upgradeInsecureRequests: null,
      },
    },
    xFrameOptions: { action: 'deny' },
  });
  if (crossOrigin.origins.length > 0) {
    await app.register(cors, {
      origin: crossOrigin.origins.includes('*') ? '*' : crossOrigin.origins,
      credentials: crossOrigin.credentials,
      maxAge: crossOrigin.maxAgeSeconds,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      exposedHeaders: ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining'],
    });
  }
  if (limit.enabled) {
    await app.register(rateLimit, {
      max: limit.max,
      timeWindow: limit.windowMs,
      keyGenerator: (request) => {
        const caller = callerOf(request);
        return caller === undefined ? `ip:${request.ip}` : `credential:${caller}`;
      },
      allowList: (request) => UNLIMITED_ROUTES.has(request.routeOptions.url ?? ''),
      // Thrown, and answered by the exception filter as every refusal is: {status_code, msg}.
      errorResponseBuilder: (_request, { statusCode, after }) =>
        Object.assign(new Error(`too many requests: retry in ${after}`), { statusCode }),
    });
  }
}
