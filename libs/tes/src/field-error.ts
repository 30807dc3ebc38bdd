/** One reason a request was refused: the offending field (dotted path) and why. */
export interface FieldError {
  field: string;
  reason: string;
}

/** Path segments longer than this are cut in field names, which are echoed to the client. */
const MAX_SEGMENT = 64;

export type Segment = string | number;

/** `['executors', 0, 'image']` → `executors[0].image` */
export function joinField(parts: readonly Segment[]): string {
  let field = '';
  for (const part of parts) {
    if (typeof part === 'number') field += `[${part}]`;
    else {
      const name = part.length > MAX_SEGMENT ? `${part.slice(0, MAX_SEGMENT)}…` : part;
      field += field ? `.${name}` : name;
    }
  }
  return field;
}
