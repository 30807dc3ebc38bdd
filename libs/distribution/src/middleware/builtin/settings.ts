import { type TSchema, Type } from '@sinclair/typebox';
import type { TaskMiddleware } from '../middleware';

/** A middleware's settings as the chain hands them over: valid against its settings schema. */
export type Settings = Readonly<Record<string, unknown>>;

/**
 * A built-in middleware: a TaskMiddleware that declares its settings, and documents itself.
 * docs/middleware-reference.md is generated from these (`npm run docs:middleware`).
 */
export interface BuiltinMiddleware<P = unknown> extends TaskMiddleware<P> {
  /** What it does, in Markdown: the reference's paragraph on it. */
  readonly description: string;
  /** Its settings; `description`, `default` and `title` of each property appear in the reference. */
  readonly settingsSchema: TSchema;
  /** The task tags it reads, as a schema of `tags`: a property per tag, a pattern per tag family. */
  readonly taskTagsSchema?: TSchema;
}

/** The settings of a middleware that takes none: only `{}`. */
export const NoSettings = Type.Object({}, { additionalProperties: false });
