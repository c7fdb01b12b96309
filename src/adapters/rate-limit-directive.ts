import {
  Kind,
  type ConstDirectiveNode,
  type DefinitionNode,
  type FieldDefinitionNode,
} from 'graphql';
import { Duration } from '../config/common.ts';
import type { FieldLimit } from '../kernel/field-limit.ts';
import type { Located } from './sdl-issue.ts';

/**
 * `@rateLimit(window: "1m", max: 2, identityArgs: ["id"])` on a field of an adapter's SDL (REST
 * schema or gRPC overlay): at most `max` resolutions of the field per caller in any
 * window-long span (docs/limits.md, "Field limits"). The arguments are graphql-rate-limit's, so
 * a field written for it reads the same here; its `arrayLengthField`, `readOnly`,
 * `uncountRejected` and `message` are not taken (one resolution spends one unit, a refusal
 * spends nothing). Like the adapters' own directives it is read at load and removed before
 * composition: the supergraph never sees it.
 */
export const RATE_LIMIT_DIRECTIVE = 'rateLimit';

const ARGS = ['window', 'max', 'identityArgs'];

type Report = (node: Located, path: string, message: string) => void;

/** Every `@rateLimit` of the object types and extensions given, by `Type.field`. */
export function readFieldLimits(
  definitions: readonly DefinitionNode[],
  report: Report,
): Map<string, FieldLimit> {
  const limits = new Map<string, FieldLimit>();
  for (const def of definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION)
      continue;
    for (const directive of def.directives ?? [])
      if (directive.name.value === RATE_LIMIT_DIRECTIVE)
        report(directive, def.name.value, '@rateLimit belongs on a field, not a type');
    for (const field of def.fields ?? []) {
      const where = `${def.name.value}.${field.name.value}`;
      const directives = (field.directives ?? []).filter(
        (d) => d.name.value === RATE_LIMIT_DIRECTIVE,
      );
      if (directives.length > 1) report(directives[1]!, where, '@rateLimit is not repeatable');
      const limit = directives[0] && readFieldLimit(directives[0], field, where, report);
      if (limit) limits.set(where, limit);
    }
  }
  return limits;
}

function readFieldLimit(
  directive: ConstDirectiveNode,
  field: FieldDefinitionNode,
  where: string,
  report: Report,
): FieldLimit | undefined {
  const args = new Map((directive.arguments ?? []).map((a) => [a.name.value, a.value]));
  let valid = true;
  const refuse = (node: Located, message: string) => {
    report(node, where, message);
    valid = false;
  };
  for (const arg of directive.arguments ?? [])
    if (!ARGS.includes(arg.name.value))
      refuse(arg, `@rateLimit has no argument "${arg.name.value}"; it takes ${ARGS.join(', ')}`);

  // The durations of supergraph.yaml, a subset of what graphql-rate-limit's `ms` reads with the
  // same values, so the library and the budget never disagree about the window.
  const windowNode = args.get('window');
  const parsed =
    windowNode?.kind === Kind.STRING ? Duration.safeParse(windowNode.value) : undefined;
  const windowMs = parsed?.success ? parsed.data : 0;
  if (windowMs < 1)
    refuse(
      windowNode ?? directive,
      `@rateLimit needs window: a duration such as "30s", "1m" or "1h"${windowNode ? ', longer than 0' : ''}`,
    );

  const maxNode = args.get('max');
  const max = maxNode?.kind === Kind.INT ? Number(maxNode.value) : 0;
  if (max < 1 || !Number.isSafeInteger(max))
    refuse(maxNode ?? directive, '@rateLimit needs max: a whole number of at least 1');

  const identityArgs: string[] = [];
  const identityNode = args.get('identityArgs');
  const known = (field.arguments ?? []).map((a) => a.name.value);
  if (identityNode) {
    // GraphQL coerces a single value to a one-item list; so does the SDL here.
    const items = identityNode.kind === Kind.LIST ? identityNode.values : [identityNode];
    for (const item of items) {
      if (item.kind !== Kind.STRING) {
        refuse(item, 'identityArgs expects argument names, as strings');
        continue;
      }
      // A path into an input argument (`input.id`) is graphql-rate-limit's, read with lodash.get.
      const name = item.value.split('.')[0] ?? '';
      if (!known.includes(name))
        refuse(
          item,
          `identityArgs: ${where} has no argument "${name}"${known.length ? ` (it has ${known.join(', ')})` : ''}`,
        );
      identityArgs.push(item.value);
    }
  }
  const window = windowNode?.kind === Kind.STRING ? windowNode.value : '';
  return valid ? { window, windowMs, max, identityArgs } : undefined;
}
