import {
  GraphQLError,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLObjectType,
  GraphQLString,
  isAbstractType,
  isCompositeType,
  isEnumType,
  isObjectType,
  Kind,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { VariableReader } from '../../policies/limits/cost-rules.ts';

/**
 * The last step of a federated query: the data the plan's fetches merged (keyed by response
 * names, holding keys, `__typename`s and required fields the client never asked for) shaped into
 * the answer the operation asked for: its fields in its order, type conditions applied by each
 * object's `__typename`, nulls propagated to the nearest nullable field with an error, leaf
 * values checked against their types. The rules and messages are Apollo Gateway's
 * (`computeResponse`); what differs is when the work is done. Apollo Gateway walks the
 * operation's selection objects for every value of every request, looking types up as it goes;
 * here each selection set is compiled once per operation and runtime type into a flat list of
 * steps (response name, what to do, the type's wrappers), kept with the plan, so a request's
 * shaping is one loop per object and allocates only the answer.
 */
export interface ShapedResponse {
  data: Record<string, unknown> | null;
  /** Apollo Gateway's post-processing errors (a null in a non-null field, a bad leaf value). */
  errors: GraphQLError[];
}

/** Apollo's code for a subgraph answer that breaks the schema's promises. */
const INVALID_GRAPHQL = 'INVALID_GRAPHQL';

/** A field's type, unwrapped once: what to check at each level of lists and non-nulls. */
type TypeShape =
  | { readonly kind: 'nonNull'; readonly of: TypeShape; readonly type: GraphQLOutputType }
  | { readonly kind: 'list'; readonly of: TypeShape; readonly type: GraphQLOutputType }
  | {
      readonly kind: 'leaf';
      readonly valid: (value: unknown) => boolean;
      readonly type: GraphQLOutputType;
    }
  | {
      readonly kind: 'composite';
      readonly type: GraphQLCompositeType;
      /** The field's sub-selections, every occurrence's, in document order. */
      readonly selections: readonly SelectionSetNode[];
      readonly compiled: Compiled;
    };

/**
 * A selection's steps per runtime type, compiled on first use: by the object's `__typename`, or
 * (an object without one) by the type the schema declares there, whose nested fragments are
 * then judged against their enclosing fragment's condition.
 */
interface Compiled {
  readonly byTypename: Map<GraphQLCompositeType, readonly Step[]>;
  readonly byStaticType: Map<GraphQLCompositeType, readonly Step[]>;
}

const compiled = (): Compiled => ({ byTypename: new Map(), byStaticType: new Map() });

interface Step {
  /** A field shaped by its type, or `__typename` answered from the object's runtime type. */
  readonly kind: 'field' | 'typename';
  readonly responseName: string;
  /** Whether reading it must check own properties (a response name `Object.prototype` has). */
  readonly guarded: boolean;
  /** The type named in error messages: the runtime type, or the enclosing fragment's condition. */
  readonly parent: GraphQLCompositeType;
  readonly shape: TypeShape;
}

/** A null that breaks a non-null field: the enclosing object becomes null in turn. */
const INVALID = Symbol('invalid');
/** A null whose error is already reported (a bad value, an object that became null). */
const FAILED = Symbol('failed');

/**
 * An operation compiled for shaping: built once per operation (and values of the variables its
 * `@skip`/`@include` read), by `compileShape`, and run per request by `shape`.
 */
export class CompiledShape {
  readonly #schema: GraphQLSchema;
  readonly #fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  readonly #root: GraphQLObjectType;
  readonly #rootSelections: readonly SelectionSetNode[];
  readonly #rootCompiled = compiled();
  /** Decides `@skip`/`@include` at compile time, from the values this shape is for (only those). */
  readonly #conditions: VariableReader;

  constructor(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    variables: Readonly<Record<string, unknown>>,
  ) {
    const root = schema.getRootType(operation.operation);
    if (!root) throw new Error(`internal: the schema has no ${operation.operation} type`);
    this.#schema = schema;
    this.#fragments = fragments;
    this.#root = root;
    this.#rootSelections = [operation.selectionSet];
    this.#conditions = new VariableReader(variables);
  }

  /** Shapes the merged data of one request. */
  shape(input: Record<string, unknown>): ShapedResponse {
    const errors: GraphQLError[] = [];
    const steps = this.#steps(
      this.#rootSelections,
      this.#root,
      this.#root,
      this.#rootCompiled,
      false,
    );
    const data = this.#object(input, steps, [], errors);
    return { data: data === INVALID ? null : data, errors };
  }

  /** The steps of `selections` for objects of `type` (by `__typename` when `dynamic`). */
  #steps(
    selections: readonly SelectionSetNode[],
    declared: GraphQLCompositeType,
    type: GraphQLCompositeType,
    compiled: Compiled,
    dynamic: boolean,
  ): readonly Step[] {
    const cache = dynamic ? compiled.byTypename : compiled.byStaticType;
    let steps = cache.get(type);
    if (!steps) {
      const byName = new Map<string, { step: Step; selections: SelectionSetNode[] }>();
      for (const set of selections) this.#collect(set, type, declared, type, dynamic, byName);
      steps = [...byName.values()].map(({ step }) => step);
      cache.set(type, steps);
    }
    return steps;
  }

  /**
   * Collects the fields of `set` that apply to `runtime`, merged by response name (a field
   * selected twice is one step whose sub-selections are both occurrences', in order).
   * `declared` is the type `set` is written against (where field definitions are looked up),
   * `parent` the type error messages name.
   */
  #collect(
    set: SelectionSetNode,
    runtime: GraphQLCompositeType,
    declared: GraphQLCompositeType,
    parent: GraphQLCompositeType,
    dynamic: boolean,
    byName: Map<string, { step: Step; selections: SelectionSetNode[] }>,
  ): void {
    for (const selection of set.selections) {
      if (!this.#conditions.included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        const responseName = selection.alias?.value ?? selection.name.value;
        const seen = byName.get(responseName);
        if (seen) {
          if (selection.selectionSet) seen.selections.push(selection.selectionSet);
          continue;
        }
        const name = selection.name.value;
        const selections: SelectionSetNode[] = selection.selectionSet
          ? [selection.selectionSet]
          : [];
        let step: Step;
        if (name === '__typename') {
          step = {
            kind: 'typename',
            responseName,
            guarded: guarded(responseName),
            parent,
            shape: TYPENAME,
          };
        } else {
          if (isAbstractType(declared) && !('getFields' in declared))
            throw new Error(`internal: field ${name} selected on union ${declared.name}`);
          const definition = (
            declared as Exclude<GraphQLCompositeType, { getTypes: unknown }>
          ).getFields()[name];
          if (!definition)
            throw new Error(`internal: ${declared.name}.${name} is not in the schema`);
          step = {
            kind: 'field',
            responseName,
            guarded: guarded(responseName),
            parent,
            shape: shapeOf(definition.type, selections),
          };
        }
        byName.set(responseName, { step, selections });
        continue;
      }
      const fragment =
        selection.kind === Kind.FRAGMENT_SPREAD
          ? this.#fragments.get(selection.name.value)
          : selection;
      if (!fragment) throw new Error(`internal: unknown fragment ${selection.kind}`);
      const condition = fragment.typeCondition
        ? (this.#schema.getType(fragment.typeCondition.name.value) as
            GraphQLCompositeType | undefined)
        : undefined;
      if (fragment.typeCondition && !condition) continue;
      if (condition && !this.#applies(condition, runtime)) continue;
      // Without a `__typename` to go by, a nested condition is judged against this one.
      const inner = condition ?? declared;
      this.#collect(
        fragment.selectionSet,
        dynamic ? runtime : inner,
        inner,
        condition ?? parent,
        dynamic,
        byName,
      );
    }
  }

  /** Whether a fragment on `condition` applies to an object of `type` (Apollo's `isSubtype`). */
  #applies(condition: GraphQLCompositeType, type: GraphQLCompositeType): boolean {
    if (condition === type) return true;
    if (!isAbstractType(condition) || (isAbstractType(type) && !('getInterfaces' in type)))
      return false;
    return this.#schema.isSubType(condition, type as GraphQLObjectType);
  }

  /** Shapes one object's fields; INVALID when a non-null field is null. */
  #object(
    input: Record<string, unknown>,
    steps: readonly Step[],
    path: (string | number)[],
    errors: GraphQLError[],
  ): Record<string, unknown> | typeof INVALID {
    const output: Record<string, unknown> = {};
    for (const step of steps) {
      const { responseName } = step;
      let value = step.guarded
        ? Object.hasOwn(input, responseName)
          ? input[responseName]
          : undefined
        : input[responseName];
      if (step.kind === 'typename') {
        if (value == null && responseName !== '__typename') value = input.__typename;
        const type =
          typeof value === 'string' ? (this.#schema.getType(value) ?? step.parent) : step.parent;
        if (!isObjectType(type)) return INVALID;
        output[responseName] = type.name;
        continue;
      }
      path.push(responseName);
      const shaped = this.#value(value ?? null, step.shape, step.parent, path, errors);
      path.pop();
      if (shaped === INVALID) return INVALID;
      output[responseName] = shaped === FAILED ? null : shaped;
    }
    return output;
  }

  #value(
    input: unknown,
    shape: TypeShape,
    parent: GraphQLCompositeType,
    path: (string | number)[],
    errors: GraphQLError[],
  ): unknown {
    if (shape.kind === 'nonNull') {
      const value = this.#value(input, shape.of, parent, path, errors);
      if (value === null) {
        errors.push(
          invalid(
            `Cannot return null for non-nullable ${describe(path, shape.of.type, parent)}.`,
            path,
          ),
        );
        return INVALID;
      }
      return value === FAILED ? INVALID : value;
    }
    if (input === null) return null;
    switch (shape.kind) {
      case 'list': {
        if (!Array.isArray(input))
          throw new Error(
            `Invalid non-list value ${String(input)} returned by subgraph for list type ${String(shape.type)}`,
          );
        const output = new Array<unknown>(input.length);
        let nullify = false;
        for (let i = 0; i < input.length; i++) {
          path.push(i);
          const value = this.#value(input[i] ?? null, shape.of, parent, path, errors);
          path.pop();
          if (value === INVALID) nullify = true;
          output[i] = value === FAILED || value === INVALID ? null : value;
        }
        return nullify ? FAILED : output;
      }
      case 'composite': {
        if (typeof input !== 'object')
          throw new Error(
            `Invalid non-object value ${String(input)} returned by subgraph for composite type ${String(shape.type)}`,
          );
        const object = input as Record<string, unknown>;
        const typename = object.__typename;
        let type: GraphQLCompositeType = shape.type;
        if (typename !== undefined) {
          if (typeof typename !== 'string')
            throw new Error(
              `Invalid non-string value ${String(typename)} for __typename at ${path.join(',')}`,
            );
          const named = this.#schema.getType(typename);
          if (!named || !isCompositeType(named)) {
            errors.push(
              invalid(
                `Invalid __typename found for object at ${describe(path, shape.type, parent)}.`,
                path,
              ),
            );
            return FAILED;
          }
          type = named;
        }
        const steps = this.#steps(
          shape.selections,
          shape.type,
          type,
          shape.compiled,
          typename !== undefined,
        );
        const output = this.#object(object, steps, path, errors);
        return output === INVALID ? FAILED : output;
      }
      case 'leaf':
        if (shape.valid(input)) return input;
        errors.push(
          invalid(`Invalid value found for ${describe(path, shape.type, parent)}.`, path),
        );
        return FAILED;
    }
  }
}

/** `__typename` steps read their value themselves. */
const TYPENAME: TypeShape = { kind: 'leaf', valid: () => true, type: GraphQLString };

function shapeOf(type: GraphQLOutputType, selections: SelectionSetNode[]): TypeShape {
  if (type instanceof GraphQLNonNull)
    return { kind: 'nonNull', of: shapeOf(type.ofType, selections), type };
  if (type instanceof GraphQLList)
    return { kind: 'list', of: shapeOf(type.ofType, selections), type };
  if (isCompositeType(type)) return { kind: 'composite', type, selections, compiled: compiled() };
  return { kind: 'leaf', valid: leafCheck(type), type };
}

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

/** Apollo's `isValidLeafValue`: built-in scalars by JSON type, enums by their values, custom scalars anything. */
function leafCheck(type: GraphQLOutputType): (value: unknown) => boolean {
  if (isEnumType(type))
    return (value) => typeof value === 'string' && type.getValue(value) !== undefined;
  switch (type.toString()) {
    case 'Boolean':
      return (value) => typeof value === 'boolean';
    case 'Int':
    case 'ID':
      return type.toString() === 'ID'
        ? (value) =>
            typeof value === 'string' ||
            (typeof value === 'number' && Number.isFinite(value) && INTEGER.test(String(value)))
        : (value) =>
            typeof value === 'number' && Number.isFinite(value) && INTEGER.test(String(value));
    case 'Float':
      return (value) => typeof value === 'number' && Number.isFinite(value);
    case 'String':
      return (value) => typeof value === 'string';
    default:
      return () => true;
  }
}

function describe(
  path: readonly (string | number)[],
  type: GraphQLOutputType,
  parent: GraphQLCompositeType,
): string {
  const last = path[path.length - 1];
  return typeof last === 'string'
    ? `field ${parent.name}.${last}`
    : `array element of type ${String(type)} at index ${String(last)}`;
}

function invalid(message: string, path: readonly (string | number)[]): GraphQLError {
  return new GraphQLError(message, { path: [...path], extensions: { code: INVALID_GRAPHQL } });
}

const guarded = (name: string) => name in Object.prototype;
