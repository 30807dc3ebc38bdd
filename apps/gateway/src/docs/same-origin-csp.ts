/**
 * The Content-Security-Policy of the gateway's own pages (the API docs and the status page): every
 * script, style, image and call from the gateway's origin, nothing inline, no plugins, no framing by
 * other sites. Both pages are built to need nothing more; the Chromium tests fail on a violation.
 */
const SAME_ORIGIN_CSP: Readonly<Record<string, string[]>> = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'self'"],
  // swagger-ui draws its icons from data: URLs.
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
};

/** The policy as a header value; `styles` adds sources (hashes) to `style-src`. */
export function sameOriginCsp(styles: readonly string[] = []): string {
  return Object.entries({
    ...SAME_ORIGIN_CSP,
    'style-src': [...SAME_ORIGIN_CSP['style-src'], ...styles],
  })
    .map(([directive, sources]) => `${directive} ${sources.join(' ')}`)
    .join('; ');
}

export const SAME_ORIGIN_CSP_HEADER = sameOriginCsp();
