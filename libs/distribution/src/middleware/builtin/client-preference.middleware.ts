import { Injectable } from '@nestjs/common';
import {
  MiddlewareRejection,
  type NodeCandidate,
  type TaskContext,
  type TaskMiddleware,
} from '../middleware';
import { decide } from './decide';
import { booleanSetting, checkKeys } from './settings';

/** Comma-separated node names the client asks for. */
const NODE_TAG = 'protes.node';
/** The region (`metadata.region`) the client asks for. */
const REGION_TAG = 'protes.region';

interface Preference {
  tag: string;
  accepts: (candidate: NodeCandidate) => boolean;
}

function preferences(tags: Readonly<Record<string, string>>): Preference[] {
  const out: Preference[] = [];
  const nodes = tags[NODE_TAG];
  if (nodes !== undefined) {
    const names = new Set(nodes.split(',').map((name) => name.trim()));
    out.push({ tag: NODE_TAG, accepts: (c) => names.has(c.name) });
  }
  const region = tags[REGION_TAG]?.trim();
  if (region !== undefined) {
    out.push({ tag: REGION_TAG, accepts: (c) => c.metadata.region === region });
  }
  return out;
}

/**
 * Lets clients choose: the task tags `protes.node` and `protes.region` narrow the candidates to the
 * named nodes and to the nodes of that region (both, when both are given), in their incoming order.
 * A tag that matches none of the candidates this middleware receives, or two tags with no node in
 * common, refuse the task (400). With `allow: false` the tags are ignored. The tags stay on the
 * forwarded task.
 */
@Injectable()
export class ClientPreferenceMiddleware implements TaskMiddleware {
  readonly name = 'client-preference';

  handle(context: TaskContext): Promise<TaskContext> {
    return decide(() => {
      checkKeys(context.settings, ['allow']);
      if (!booleanSetting(context.settings, 'allow', true)) return context;
      const wanted = preferences(context.task.tags ?? {});
      for (const { tag, accepts } of wanted) {
        if (!context.candidates.some(accepts)) {
          throw new MiddlewareRejection(`tag ${tag} names no available node`, 400, `tags.${tag}`);
        }
      }
      const candidates = context.candidates.filter((c) => wanted.every((p) => p.accepts(c)));
      if (!candidates.length && wanted.length) {
        throw new MiddlewareRejection(
          `tags ${NODE_TAG} and ${REGION_TAG} have no node in common`,
          400,
          'tags',
        );
      }
      return { ...context, candidates };
    });
  }
}
