/**
 * How each client writes JSON bodies and query strings, byte for byte where it matters to a server:
 * escapes, separators, key order and the order of repeated query parameters.
 */

const hex4 = (code: number) => `\\u${code.toString(16).padStart(4, '0')}`;

/**
 * Python's `json.dumps` with its defaults, as py-tes sends a task (`Base.as_json` in
 * tes/models.py): `", "` and `": "` separators and `ensure_ascii=True`, so every non-ASCII character
 * arrives as a `\uXXXX` escape (characters outside the BMP as a surrogate pair).
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === undefined) throw new Error('undefined has no JSON form');
  if (value === null || typeof value === 'boolean' || typeof value === 'number') {
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => hex4(c.charCodeAt(0)));
  }
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(
    ([, v]) => v !== undefined,
  );
  return `{${entries.map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
}

/**
 * Gson's default output, as Nextflow's generated client sends a task (JSON.java in nf-ga4gh builds
 * a plain GsonBuilder): compact, nulls left out, and HTML-safe, so `<`, `>`, `&`, `=` and `'`
 * arrive as `\u003c`, `\u003e`, `\u0026`, `\u003d` and `\u0027`. Nextflow's own executor command
 * (`… 2>&1 | tee …`) is full of them.
 */
export function gsonJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&=']/g, (c) => hex4(c.charCodeAt(0)));
}

/**
 * Python's `urllib.parse.urlencode` as requests applies it to `params=`: insertion order, `None`
 * left out, spaces as `+`.
 */
export function pythonUrlencode(params: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined);
  if (pairs.length === 0) return '';
  return `?${pairs
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&')
    .replace(/%20/g, '+')}`;
}

/**
 * Go's `url.Values.Encode`, as Funnel's CLI builds its list query (tes/client.go): keys sorted,
 * each key's values in the order added, spaces as `+`.
 */
export function goValuesEncode(values: [string, string][]): string {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of values) byKey.set(k, [...(byKey.get(k) ?? []), v]);
  const keys = [...byKey.keys()].sort();
  const escape = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return keys
    .flatMap((k) => (byKey.get(k) ?? []).map((v) => `${escape(k)}=${escape(v)}`))
    .join('&');
}

/**
 * Java's `URLEncoder.encode(…, "utf8")` with `+` turned back into `%20`, as the generated client's
 * `escapeString` does for path ids and query values.
 */
export function javaEscape(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()~]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
