/**
 * The value at a dotted path inside a value: `select: "data.items"` on @rest, @restEntity, @grpc
 * and @grpcEntity picks the result out of a backend's answer; a template placeholder
 * (`{args.input.name}`) reads its scope, and the gRPC port a binding's path variables and body
 * field out of a request's JSON (translate/grpc-to-rest.ts), the same way. Only own properties
 * are read, so a path from an SDL never reaches a prototype (`constructor`, `__proto__`,
 * `toString`); a path that runs into null, a scalar or a missing key is undefined, which a field
 * reads as null.
 */
export function select(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment))
      return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
