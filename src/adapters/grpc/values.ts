import type protobuf from 'protobufjs';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import {
  fromProtoJson,
  JsonMappingError,
  toProtoJson,
  type FromJsonOptions,
  type ToJsonOptions,
} from './proto-json.ts';

/**
 * The gRPC adapter's GraphQL values are ProtoJSON (proto-json.ts, the mapping transcoding uses),
 * in the shape GraphQL needs: a field for every proto field, keyed by its name in the generated
 * schema; defaults written out, since a GraphQL field always has a value (unset messages,
 * oneof members and `optional` fields stay out, so they read as null); maps as lists of
 * `{ key, value }` entries, since GraphQL has no map type.
 */

type Obj = Record<string, unknown>;

const TO_GRAPHQL: ToJsonOptions = { emitDefaults: true, useProtoNames: true, mapEntries: true };
const FROM_GRAPHQL: FromJsonOptions = { mapEntries: true };

/** A decoded reply as the value of the field that called it. */
export function messageToGraphQL(type: protobuf.Type, message: Obj): Obj {
  return toProtoJson(type, message, TO_GRAPHQL) as Obj;
}

/**
 * A field's arguments as a plain object for `type.fromObject()`. A value the scalars let through
 * but the proto field cannot hold (-1 for a uint64, two members of one oneof) is the client's
 * mistake, refused before any call.
 */
export function graphQLToMessage(type: protobuf.Type, values: Obj): Obj {
  try {
    return fromProtoJson(type, values, FROM_GRAPHQL);
  } catch (error) {
    if (!(error instanceof JsonMappingError)) throw error;
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, error.message, {
      extensions: { field: error.field },
    });
  }
}
