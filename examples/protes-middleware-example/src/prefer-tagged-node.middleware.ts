import { Injectable } from '@nestjs/common';
import {
  MiddlewareError,
  type NodeCandidate,
  RankMiddleware,
  type TaskContext,
} from '@protes/middleware-sdk';

/** What `prepare` makes of the settings, once per chain: what `score` reads for every task. */
interface Preference {
  tag: string;
  value?: string;
}

/**
 * Puts the nodes whose configuration tags include `tag` (with `value`, when set) first, keeping
 * the order of the others behind them. Settings: `{ tag: string, value?: string }`.
 */
@Injectable()
export class PreferTaggedNodeMiddleware extends RankMiddleware<Preference> {
  readonly name = 'prefer-tagged-node';

  readonly settingsSchema = {
    type: 'object',
    properties: {
      tag: { type: 'string', minLength: 1, description: 'The tag a preferred node carries.' },
      value: { type: 'string', description: 'Its value; any value when not set.' },
    },
    required: ['tag'],
    additionalProperties: false,
  };

  /** Runs when a chain naming this middleware is set, after the settings matched the schema. */
  prepare(settings: Readonly<Record<string, unknown>>): Preference {
    const { tag, value } = settings as { tag: string; value?: string };
    return { tag, value };
  }

  score(node: NodeCandidate, context: TaskContext<Preference>): number {
    if (!context.prepared) throw new MiddlewareError('its settings were not prepared');
    const { tag, value } = context.prepared;
    const has = node.metadata.tags?.[tag];
    return has !== undefined && (value === undefined || has === value) ? 1 : 0;
  }
}
