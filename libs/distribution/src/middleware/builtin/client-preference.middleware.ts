import { Inject, Injectable, Optional } from '@nestjs/common';
import { type Static, Type } from '@sinclair/typebox';
import { MiddlewareRejection, type TaskContext } from '../middleware';
import { decide } from './decide';
import { NODE_AVAILABILITY, type NodeAvailability, refusalFor } from './node-availability';
import type { BuiltinMiddleware } from './settings';

/** Comma-separated node names the client asks for. */
const NODE_TAG = 'protes.node';
/** The region (`metadata.region`) the client asks for. */
const REGION_TAG = 'protes.region';

const ClientPreferenceSettingsSchema = Type.Object(
  {
    allow: Type.Optional(
      Type.Boolean({
        default: true,
        description: 'Whether clients may choose; with `false` the tags are ignored.',
      }),
    ),
  },
  { additionalProperties: false },
);
type ClientPreferenceSettings = Static<typeof ClientPreferenceSettingsSchema>;

const ClientPreferenceTagsSchema = Type.Object({
  [NODE_TAG]: Type.Optional(
    Type.String({
      description:
        'The nodes the task may go to: their names, separated by commas. Names that are not candidates are ignored, as long as one is.',
    }),
  ),
  [REGION_TAG]: Type.Optional(
    Type.String({
      description: 'The region the task must run in: the configured `region` of the nodes.',
    }),
  ),
});

/** A node as far as the tags are concerned. */
interface Place {
  name: string;
  region?: string;
}

interface Preference {
  tag: string;
  accepts: (node: Place) => boolean;
}

function preferences(tags: Readonly<Record<string, string>>): Preference[] {
  const out: Preference[] = [];
  const nodes = tags[NODE_TAG];
  if (nodes !== undefined) {
    const names = new Set(nodes.split(',').map((name) => name.trim()));
    out.push({ tag: NODE_TAG, accepts: (n) => names.has(n.name) });
  }
  const region = tags[REGION_TAG]?.trim();
  if (region !== undefined) {
    out.push({ tag: REGION_TAG, accepts: (n) => n.region === region });
  }
  return out;
}

/**
 * Lets clients choose: the task tags `protes.node` and `protes.region` narrow the candidates to the
 * named nodes and to the nodes of that region (both, when both are given), in their incoming order.
 * A tag that matches none of the candidates this middleware receives, or two tags with no node in
 * common, refuse the task: 400, or 503 with Retry-After when a configured node the tags accept is
 * down right now (its circuit breaker takes no call), since the same task may then be taken later.
 * With `allow: false` the tags are ignored. The tags stay on the forwarded task.
 */
@Injectable()
export class ClientPreferenceMiddleware implements BuiltinMiddleware {
  readonly name = 'client-preference';
  readonly description =
    "Lets clients choose where their task runs, with task tags: the candidates are narrowed to the named nodes and to the nodes of the named region (both, when both tags are given), in their incoming order. A tag that matches none of the candidates it receives, or two tags with no node in common, refuse the task with 400 — or with 503 and `Retry-After` (the seconds until the node's circuit breaker lets a call through again) when a configured node the tags accept is down right now. The tags stay on the forwarded task.";
  readonly settingsSchema = ClientPreferenceSettingsSchema;
  readonly taskTagsSchema = ClientPreferenceTagsSchema;

  constructor(
    @Optional() @Inject(NODE_AVAILABILITY) private readonly availability?: NodeAvailability,
  ) {}

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      const { allow = true } = context.settings as ClientPreferenceSettings;
      if (!allow) return context;
      const wanted = preferences(context.task.tags ?? {});
      const placeOf = (c: TaskContext['candidates'][number]): Place => ({
        name: c.name,
        region: c.metadata.region,
      });
      for (const preference of wanted) {
        if (!context.candidates.some((c) => preference.accepts(placeOf(c)))) {
          throw this.refusal(
            `tag ${preference.tag} names no available node`,
            `tags.${preference.tag}`,
            [preference],
          );
        }
      }
      const candidates = context.candidates.filter((c) =>
        wanted.every((p) => p.accepts(placeOf(c))),
      );
      if (!candidates.length && wanted.length) {
        throw this.refusal(
          `tags ${NODE_TAG} and ${REGION_TAG} have no node in common`,
          'tags',
          wanted,
        );
      }
      return { ...context, candidates };
    });
  }

  /**
   * 400; or 503 when configured nodes that every one of `wanted` accepts are down right now. The
   * answer names no node: a name the caller did not give (a node of the region it asked for), or
   * whether a name it gave is a node that is filtered out, is not the caller's to learn here. An
   * unknown name and a node that is up but not a candidate are refused alike.
   */
  private refusal(message: string, field: string, wanted: Preference[]): MiddlewareRejection {
    return refusalFor(this.availability, (node) => wanted.every((p) => p.accepts(node)), {
      message,
      field,
      status: 400,
      theNode: 'a node it accepts',
    });
  }
}
