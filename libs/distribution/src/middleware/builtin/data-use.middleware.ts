import { Inject, Injectable, Optional } from '@nestjs/common';
import { claimHas } from '@protes/auth';
import { type Static, Type } from '@sinclair/typebox';
import {
  type Caller,
  MiddlewareError,
  MiddlewareRejection,
  SettingsError,
  type TaskContext,
  type Visa,
} from '../middleware';
import { decide } from './decide';
import {
  type AvailableNode,
  NODE_AVAILABILITY,
  type NodeAvailability,
  refusalFor,
} from './node-availability';
import type { BuiltinMiddleware, Settings } from './settings';
import { normalizeUrl } from './task-urls';
import { globToRegExp, hostOf, URL_MATCH_PROPERTIES } from './url-location';

const DataSchema = Type.Object(
  {
    ...URL_MATCH_PROPERTIES,
  },
  {
    additionalProperties: false,
    anyOf: [{ required: ['prefix'] }, { required: ['host'] }],
    description: 'Matches with `prefix`, `host` or both (then both must match).',
  },
);

const UserSchema = Type.Object(
  {
    owners: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'Owner ids, one of which the caller must be: `<iss>|<sub>` of a token, `basic|<username>` of a Basic user.',
      }),
    ),
    claims: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String(), {
        minProperties: 1,
        description:
          'Claims the caller must hold, each equal to its value or a list holding it. Only the claims named in `auth.exposeClaims` reach middlewares.',
      }),
    ),
    visa: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'The dataset of a GA4GH Passport visa the caller must hold: a verified, unexpired ControlledAccessGrants visa whose `value` is exactly this, from an issuer in `auth.visaIssuers`.',
      }),
    ),
  },
  {
    additionalProperties: false,
    anyOf: [{ required: ['owners'] }, { required: ['claims'] }, { required: ['visa'] }],
    description: 'Every condition given must hold.',
  },
);

const RuleSchema = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9._-]+$',
      description: 'Names the rule in decisions and refusals; unique.',
    }),
    data: Type.Array(DataSchema, {
      minItems: 1,
      description: 'The data the rule is about: a remote input matching any of these.',
    }),
    regions: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'The data may be processed only on nodes of these regions (`region`).',
      }),
    ),
    nodeTags: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String(), {
        minProperties: 1,
        description:
          'The data may be processed only on nodes whose configured `tags` hold each of these.',
      }),
    ),
    users: Type.Optional(
      Type.Array(UserSchema, {
        minItems: 1,
        description: 'Who may use the data: a caller matching any of these.',
      }),
    ),
  },
  {
    additionalProperties: false,
    anyOf: [{ required: ['regions'] }, { required: ['nodeTags'] }, { required: ['users'] }],
    description: 'Confines with `regions`, `nodeTags` (where), `users` (who), or several of them.',
  },
);

const DataUseSettingsSchema = Type.Object(
  {
    rules: Type.Optional(
      Type.Array(RuleSchema, {
        default: [],
        description:
          'Every rule whose data a remote input of the task matches applies: the task must satisfy them all.',
      }),
    ),
  },
  { additionalProperties: false },
);
type DataUseSettings = Static<typeof DataUseSettingsSchema>;
type RuleSettings = Static<typeof RuleSchema>;

/** A rule as each task uses it: URL prefixes normalised, host patterns compiled. */
export interface DataUseRule extends Omit<RuleSettings, 'data'> {
  data: { prefix?: string; host?: RegExp }[];
}

export interface DataUsePrepared {
  rules: DataUseRule[];
}

type User = NonNullable<RuleSettings['users']>[number];

/** Whether the caller, holding `visas`, is one of `user`. */
function isUser(user: User, caller: Caller, visas: readonly Visa[]): boolean {
  const now = Date.now();
  return (
    (user.owners === undefined || user.owners.includes(caller.subject)) &&
    Object.entries(user.claims ?? {}).every(([claim, value]) =>
      claimHas(caller.claims ?? {}, claim, value),
    ) &&
    (user.visa === undefined ||
      visas.some((visa) => visa.value === user.visa && visa.expiresAt > now))
  );
}

/** Whether the rule lets the data be processed on `node`. */
/** Whether the rule lets its data be processed on a node of this region and these tags. */
const allows = (rule: DataUseRule, node: Pick<AvailableNode, 'region' | 'tags'>): boolean =>
  (rule.regions === undefined ||
    (node.region !== undefined && rule.regions.includes(node.region))) &&
  Object.entries(rule.nodeTags ?? {}).every(([tag, value]) => node.tags?.[tag] === value);

/** Where the rule lets its data be processed, for messages; '' when it does not confine that. */
function placeOf(rule: DataUseRule): string {
  const tags = Object.entries(rule.nodeTags ?? {}).map(([tag, value]) => `${tag}=${value}`);
  return [
    ...(rule.regions ? [`region ${rule.regions.join(', ')}`] : []),
    ...(tags.length ? [`tags ${tags.join(', ')}`] : []),
  ].join(' and ');
}

/** The task's remote inputs, as `inputs[i].url` and the normalised URL with its host. */
function remoteUrls(
  context: TaskContext<DataUsePrepared>,
): { field: string; url: string; host?: string }[] {
  return (context.task.inputs ?? []).flatMap((input, i) => {
    if (!input.url || input.content) return []; // inline: no data is read
    const url = normalizeUrl(input.url);
    return [{ field: `inputs[${i}].url`, url, host: hostOf(url) }];
  });
}

/**
 * Data-use restrictions: rules map data (input URL prefixes, hosts) to where it may be processed
 * (node regions, node tags) and to who may use it (owner ids, claims, GA4GH Passport visas). A
 * task whose inputs a rule matches goes only to the nodes every such rule allows, or is refused
 * with 403 naming the rule: when the caller may not use the data, or no candidate is allowed (503
 * with Retry-After instead when a node the rules allow is down right now).
 * Who may use data is checked when the task is created; when the chain runs again for a task
 * already accepted (takeover, resubmission: `caller.visas` is absent) only where it may go is.
 */
@Injectable()
export class DataUseMiddleware implements BuiltinMiddleware<DataUsePrepared> {
  readonly name = 'data-use';
  readonly description =
    'Data-use restrictions: each rule names data (input URL prefixes or hosts) and confines where it may be processed (nodes of some `regions`, nodes with some `nodeTags`) and who may use it (`users`: owner ids, claims, or a GA4GH Passport ControlledAccessGrants visa for the dataset). A task with a remote input a rule matches goes only to the nodes every matching rule allows, and the decision names the rules; a task whose caller may not use the data, or that no candidate node may process, is refused with 403 naming the rule (503 with Retry-After when a node the rules allow is down right now). Who may use the data is checked when the task is created, not again when the tracker takes over or resubmits it. See docs/data-use.md.';
  readonly settingsSchema = DataUseSettingsSchema;

  /** Normalises prefixes, compiles host patterns, and refuses two rules of one name. */
  prepare(settings: Settings): DataUsePrepared {
    const { rules = [] } = settings as DataUseSettings;
    const first = new Map<string, number>();
    const errors = rules.flatMap((rule, i) => {
      const at = first.get(rule.name);
      if (at === undefined) first.set(rule.name, i);
      return at === undefined
        ? []
        : [{ field: `rules[${i}].name`, reason: `is the name of rules[${at}] already` }];
    });
    if (errors.length) throw new SettingsError(errors);
    return {
      rules: rules.map((rule) => ({
        ...rule,
        data: rule.data.map((d) => ({
          ...(d.prefix !== undefined && { prefix: normalizeUrl(d.prefix) }),
          ...(d.host !== undefined && { host: globToRegExp(d.host) }),
        })),
      })),
    };
  }

  constructor(
    @Optional() @Inject(NODE_AVAILABILITY) private readonly availability?: NodeAvailability,
  ) {}

  /**
   * No candidate may process the data: 503 with Retry-After when a configured node that every
   * confining rule allows is down right now (the same task may be taken once it is back), else 403.
   */
  private noPlace(message: string, field: string, confining: DataUseRule[]): MiddlewareRejection {
    return refusalFor(this.availability, (node) => confining.every((rule) => allows(rule, node)), {
      message,
      field,
      status: 403,
      theNode: 'a node it allows',
    });
  }

  handle(context: TaskContext<DataUsePrepared>): Promise<TaskContext<DataUsePrepared>> {
    return decide(() => {
      if (!context.prepared) throw new MiddlewareError('its settings were not prepared');
      const urls = remoteUrls(context);
      const applying = context.prepared.rules.flatMap((rule) => {
        const input = urls.find(({ url, host }) =>
          rule.data.some(
            (d) =>
              (d.prefix === undefined || url.startsWith(d.prefix)) &&
              (d.host === undefined || (host !== undefined && d.host.test(host))),
          ),
        );
        return input ? [{ rule, field: input.field }] : [];
      });
      if (!applying.length) return { ...context, reason: 'no rule applies to its inputs' };
      // Who before where: a caller who may not use the data learns nothing of where it may go.
      const { caller } = context;
      const { visas } = caller;
      for (const { rule, field } of applying) {
        if (rule.users && visas && !rule.users.some((user) => isUser(user, caller, visas))) {
          const needed = rule.users.flatMap((u) => (u.visa === undefined ? [] : [u.visa]));
          throw new MiddlewareRejection(
            `rule ${rule.name}: the caller may not use the data of ${field}${
              needed.length
                ? ` (a valid GA4GH Passport ControlledAccessGrants visa for ${needed.join(' or ')} is required)`
                : ''
            }`,
            403,
            field,
          );
        }
      }
      let candidates = context.candidates;
      const reasons: string[] = [];
      const confining: DataUseRule[] = [];
      for (const { rule, field } of applying) {
        const place = placeOf(rule);
        reasons.push(`rule ${rule.name}${place ? `: only on nodes of ${place}` : ''}`);
        if (!place) continue;
        confining.push(rule);
        candidates = candidates.filter((node) => allows(rule, node.metadata));
        if (!candidates.length) {
          const message = `rule ${rule.name}: the data of ${field} may be processed only on nodes of ${place}, and no such node is available to the task`;
          throw this.noPlace(message, field, confining);
        }
      }
      const reason = reasons.join('; ');
      const unchecked = visas === undefined && applying.some(({ rule }) => rule.users);
      return {
        ...context,
        candidates,
        reason: unchecked ? `${reason} (users checked when the task was accepted)` : reason,
      };
    });
  }
}
