import {
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { OperationLimitsConfig } from '../../config/schema.ts';
import type { RequestContext } from '../../kernel/context.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import { operationParts } from '../../kernel/operation.ts';

/**
 * Operation limits, counted as Apollo Router counts them
 * (https://www.apollographql.com/docs/graphos/routing/security/request-limits, and its
 * `spec/operation_limits.rs`), so clients written for it see the same numbers and codes:
 *
 * - depth: the deepest nesting of fields; a field is one level, a fragment (inline or named)
 *   adds none: `{ a { b } }` is 2;
 * - height: the fields of the operation, fragments included; within one selection set a
 *   response key seen before counts once, but every spread of a fragment counts its fields
 *   again (an upper bound, as the Router's);
 * - aliases: aliased fields, fragments included, at every spread;
 * - root fields: the response keys of the operation's own selection set, root fields that
 *   fragments spread there included (the Router's documentation);
 * - directives (ours; the Router has no such limit): directive applications on the operation,
 *   its fields and fragment spreads, fragments included at every spread. Counted per operation,
 *   not per field: after validation a field can carry each non-repeatable directive once, so a
 *   per-field count is bounded by the schema, while the work a document's directives cause
 *   grows with their total.
 *
 * A named fragment is measured once, and its measure reused at every spread, so a document whose
 * fragments spread others many times over is walked in time linear in its size (the sums may
 * still be huge: that is what they measure). The walk keeps its own stack: a 5,000-level
 * document the parser accepted does not recurse 5,000 frames here.
 */

export interface OperationMeasure {
  depth: number;
  height: number;
  aliases: number;
  rootFields: number;
  directives: number;
}

const zero = (): OperationMeasure => ({
  depth: 0,
  height: 0,
  aliases: 0,
  rootFields: 0,
  directives: 0,
});

/** A selection set being walked: what it has counted so far, and how its child adds up. */
interface Frame {
  readonly selections: SelectionSetNode['selections'];
  index: number;
  readonly seen: Set<string>;
  readonly measure: OperationMeasure;
  /** How the child frame's measure adds to this one when it ends. */
  child?: 'field' | 'fragment';
  /** The named fragment this frame measures, to remember its measure when it ends. */
  readonly fragment?: string;
}

/** The measure of the operation `operationName` of `document`; zero when it names none. */
export function measureOperation(
  document: DocumentNode,
  operationName: string | undefined,
): OperationMeasure {
  const { operation, fragments } = operationParts(document, operationName);
  if (!operation) return zero();
  // Fragment measures by name; `null` while one is being measured (a cycle, which validation
  // refuses before this runs, is then skipped rather than followed).
  const measured = new Map<string, OperationMeasure | null>();
  const frame = (selectionSet: SelectionSetNode, fragment?: string): Frame => ({
    selections: selectionSet.selections,
    index: 0,
    seen: new Set(),
    measure: zero(),
    ...(fragment === undefined ? {} : { fragment }),
  });
  const stack: Frame[] = [frame(operation.selectionSet)];
  let done: OperationMeasure | undefined;
  const top = stack[0] as Frame;
  top.measure.directives += operation.directives?.length ?? 0;

  while (stack.length > 0) {
    const current = stack[stack.length - 1] as Frame;
    if (done) {
      add(current.measure, done, current.child ?? 'fragment');
      done = undefined;
    }
    const selection = current.selections[current.index++];
    if (!selection) {
      stack.pop();
      if (current.fragment !== undefined) measured.set(current.fragment, current.measure);
      done = current.measure;
      continue;
    }
    current.measure.directives += selection.directives?.length ?? 0;
    if (selection.kind === Kind.FIELD) {
      const key = selection.alias?.value ?? selection.name.value;
      if (selection.alias) current.measure.aliases += 1;
      if (!current.seen.has(key)) {
        current.seen.add(key);
        current.measure.height += 1;
        current.measure.rootFields += 1;
      }
      current.measure.depth = Math.max(current.measure.depth, 1);
      if (selection.selectionSet) {
        current.child = 'field';
        stack.push(frame(selection.selectionSet));
      }
      continue;
    }
    current.child = 'fragment';
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      stack.push(frame(selection.selectionSet));
      continue;
    }
    const name = selection.name.value;
    const known = measured.get(name);
    if (known) {
      done = known;
      continue;
    }
    const definition: FragmentDefinitionNode | undefined = fragments.get(name);
    if (known === null || !definition) continue;
    measured.set(name, null);
    stack.push(frame(definition.selectionSet, name));
  }
  return done ?? zero();
}

/** Adds a child selection set's measure: under a field one level deeper, under a fragment level. */
function add(into: OperationMeasure, child: OperationMeasure, under: 'field' | 'fragment'): void {
  into.depth = Math.max(into.depth, child.depth + (under === 'field' ? 1 : 0));
  into.height += child.height;
  into.aliases += child.aliases;
  into.directives += child.directives;
  // Only the operation's own selection set has root fields; a fragment spread there adds its own.
  if (under === 'fragment') into.rootFields += child.rootFields;
}

/** Each limit: its config key, what it reads of the measure, its code and its wording. */
const LIMITS = [
  {
    key: 'max_depth',
    of: (m: OperationMeasure) => m.depth,
    code: ErrorCode.MAX_DEPTH_LIMIT,
    what: 'depth',
  },
  {
    key: 'max_height',
    of: (m: OperationMeasure) => m.height,
    code: ErrorCode.MAX_HEIGHT_LIMIT,
    what: 'height (field count)',
  },
  {
    key: 'max_root_fields',
    of: (m: OperationMeasure) => m.rootFields,
    code: ErrorCode.MAX_ROOT_FIELDS_LIMIT,
    what: 'root fields',
  },
  {
    key: 'max_aliases',
    of: (m: OperationMeasure) => m.aliases,
    code: ErrorCode.MAX_ALIASES_LIMIT,
    what: 'aliases',
  },
  {
    key: 'max_directives',
    of: (m: OperationMeasure) => m.directives,
    code: ErrorCode.MAX_DIRECTIVES_LIMIT,
    what: 'directives',
  },
] as const;

/** The first limit the measure exceeds, as the client's error; undefined within them all. */
export function exceededLimit(
  measure: OperationMeasure,
  limits: OperationLimitsConfig,
): GatewayError | undefined {
  for (const limit of LIMITS) {
    const found = limit.of(measure);
    const max = limits[limit.key];
    if (found <= max) continue;
    return new GatewayError(
      limit.code,
      `Maximum ${limit.what} limit exceeded in this operation: ${found}, ${limit.key}: ${max}.`,
      { extensions: { limit: limit.key, found, max }, requestLevel: true },
    );
  }
  return undefined;
}

/**
 * Stage: refuses an operation deeper, higher, with more root fields, aliases or directives than
 * `limits.operation` (or the request's client's `clients.<id>.limits.operation`) allows,
 * before its cost is weighed or anything is planned. A document too long to parse
 * (`max_tokens`) never reaches it: the parser refuses it first.
 */
export function limitOperation(ctx: RequestContext): void {
  const operation = ctx.operation;
  if (!operation) return;
  const error = exceededLimit(
    measureOperation(operation.document, operation.name),
    (ctx.client?.limits ?? ctx.snapshot.limits).operation,
  );
  if (error) throw error;
}
