import {
  getNamedType,
  isAbstractType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type DirectiveNode,
  type FieldNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type ValueNode,
} from 'graphql';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import type { CostModel } from './cost-model.ts';

/**
 * The rules estimates and actual costs share, as Apollo Router's demand control applies them
 * (apollo-router/src/plugins/demand_control/cost_calculator/static_cost.rs): what a field's
 * type weighs, what its arguments add, and which selections `@skip`/`@include` leave out.
 */

/** Reads variables for a walk, and remembers whether it did (an estimate that did is not cached). */
export class VariableReader {
  read = false;
  readonly variables: Readonly<Record<string, unknown>>;
  constructor(variables: Readonly<Record<string, unknown>>) {
    this.variables = variables;
  }

  value(node: ValueNode): unknown {
    if (node.kind === Kind.VARIABLE) {
      this.read = true;
      return this.variables[node.name.value];
    }
    if (node.kind === Kind.LIST || node.kind === Kind.OBJECT) this.read ||= hasVariable(node);
    return valueFromASTUntyped(node, this.variables);
  }

  /** Whether `@skip`/`@include` on the node let it run. */
  included(node: { readonly directives?: readonly DirectiveNode[] | undefined }): boolean {
    for (const directive of node.directives ?? []) {
      const name = directive.name.value;
      if (name !== 'skip' && name !== 'include') continue;
      const condition = directive.arguments?.find((a) => a.name.value === 'if');
      const value = condition ? this.value(condition.value) === true : false;
      if ((name === 'skip' && value) || (name === 'include' && !value)) return false;
    }
    return true;
  }
}

function hasVariable(node: ValueNode): boolean {
  if (node.kind === Kind.VARIABLE) return true;
  if (node.kind === Kind.LIST) return node.values.some(hasVariable);
  if (node.kind === Kind.OBJECT) return node.fields.some((f) => hasVariable(f.value));
  return false;
}

/**
 * A field's entry in a coordinate map: the field's own (`Type.field`), else the one of an
 * interface it implements (a weight declared on `Node.id` applies to every `id` of a Node).
 */
export function fieldEntry<T>(
  map: ReadonlyMap<string, T>,
  type: GraphQLNamedType,
  field: string,
): T | undefined {
  const own = map.get(`${type.name}.${field}`);
  if (own !== undefined || !(isObjectType(type) || isInterfaceType(type))) return own;
  for (const parent of type.getInterfaces()) {
    const inherited = map.get(`${parent.name}.${field}`);
    if (inherited !== undefined) return inherited;
  }
  return undefined;
}

/** The field definition a selection names on `type`, if the type has fields and that one. */
export function fieldOf(
  type: GraphQLNamedType | undefined,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  return type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[name] : undefined;
}

/**
 * What one instance of a field's value weighs before its selections: the field's `@cost`, else
 * its type's, else 1 for objects, interfaces and unions and 0 for scalars and enums.
 */
export function typeWeight(
  model: CostModel,
  parent: GraphQLNamedType,
  definition: GraphQLField<unknown, unknown>,
  composite: number,
): number {
  return declaredWeight(model, parent, definition) ?? composite;
}

// The declared weight of each field definition, by model: the actual cost asks for it once per
// value in the data, and building coordinates every time was most of that walk's time.
const declared = new WeakMap<CostModel, WeakMap<GraphQLField<unknown, unknown>, number | null>>();

function declaredWeight(
  model: CostModel,
  parent: GraphQLNamedType,
  definition: GraphQLField<unknown, unknown>,
): number | undefined {
  let byField = declared.get(model);
  if (!byField) declared.set(model, (byField = new WeakMap()));
  let weight = byField.get(definition);
  if (weight === undefined) {
    weight =
      fieldEntry(model.weights, parent, definition.name) ??
      model.weights.get(getNamedType(definition.type).name) ??
      null;
    byField.set(definition, weight);
  }
  return weight ?? undefined;
}

/**
 * What the arguments given to a field add, as the Router scores them: an input object costs its
 * argument's (or input field's) `@cost`, else 1, plus its fields; a list the sum of its items
 * (plus the argument's weight); any other value the argument's weight, else 0; null nothing.
 * Values held in variables are scored from the variables.
 */
export function argumentsCost(
  model: CostModel,
  parent: GraphQLNamedType,
  field: FieldNode,
  definition: GraphQLField<unknown, unknown>,
  reader: VariableReader,
): number {
  let cost = 0;
  for (const argument of field.arguments ?? []) {
    const argumentDefinition = definition.args.find((a) => a.name === argument.name.value);
    if (!argumentDefinition) continue;
    const weight = fieldEntry(model.weights, parent, `${definition.name}(${argument.name.value}:)`);
    cost += inputCost(model, argumentDefinition, weight, reader.value(argument.value));
  }
  return cost;
}

function inputCost(
  model: CostModel,
  definition: GraphQLArgument | GraphQLInputField,
  weight: number | undefined,
  value: unknown,
): number {
  if (value === null || value === undefined) return 0;
  if (Array.isArray(value)) {
    // A loop, not reduce: an entity fetch's representations are hundreds of items.
    let sum = weight ?? 0;
    for (const item of value) sum += inputCost(model, definition, weight, item);
    return sum;
  }
  const named = getNamedType(definition.type);
  if (!isInputObjectType(named) || typeof value !== 'object') return weight ?? 0;
  let cost = weight ?? 1;
  const fields = named.getFields();
  for (const [name, inner] of Object.entries(value)) {
    const field = fields[name];
    if (field) cost += inputCost(model, field, model.weights.get(`${named.name}.${name}`), inner);
  }
  return cost;
}

/** The object types a value of `type` can be: itself for an object type. */
export function runtimeTypes(
  schema: GraphQLSchema,
  type: GraphQLNamedType,
): readonly GraphQLNamedType[] {
  return isAbstractType(type) ? schema.getPossibleTypes(type) : [type];
}

/** Whether a fragment with this type condition applies to a value of object type `type`. */
export function applies(
  schema: GraphQLSchema,
  condition: string | undefined,
  type: GraphQLNamedType,
): boolean {
  if (condition === undefined || condition === type.name) return true;
  const conditionType = schema.getType(condition);
  return (
    conditionType !== undefined &&
    isAbstractType(conditionType) &&
    isObjectType(type) &&
    schema.isSubType(conditionType, type)
  );
}

/**
 * The size `@listSize` gives a field: the largest slicing argument, else `assumedSize`;
 * undefined when it gives none. Refuses a field that breaks `requireOneSlicingArgument`.
 */
export function expectedSize(
  model: CostModel,
  parent: GraphQLNamedType,
  field: FieldNode,
  definition: GraphQLField<unknown, unknown>,
  reader: VariableReader,
): number | undefined {
  const declared = fieldEntry(model.listSizes, parent, definition.name);
  if (!declared) return undefined;
  if (!declared.slicingArguments) return declared.assumedSize;
  const sizes: number[] = [];
  for (const path of declared.slicingArguments) {
    const [name, ...inner] = path.split('.');
    const given = field.arguments?.find((a) => a.name.value === name);
    let value: unknown = given
      ? reader.value(given.value)
      : definition.args.find((a) => a.name === name)?.defaultValue;
    for (const segment of inner)
      value =
        value && typeof value === 'object'
          ? (value as Record<string, unknown>)[segment]
          : undefined;
    const size = Array.isArray(value) ? value.length : value;
    if (typeof size === 'number' && Number.isInteger(size)) sizes.push(size);
  }
  if (declared.requireOneSlicingArgument && sizes.length !== 1)
    throw new GatewayError(
      ErrorCode.COST_QUERY_PARSE_FAILURE,
      `Exactly one slicing argument is required on ${parent.name}.${definition.name} ` +
        `(${declared.slicingArguments.join(', ')}), but found ${sizes.length}.`,
      {
        nodes: [field],
        extensions: { field: `${parent.name}.${definition.name}`, found: sizes.length },
        requestLevel: true,
      },
    );
  return sizes.length > 0 ? Math.max(...sizes) : declared.assumedSize;
}

export function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}
