import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { encodeBase64 } from '../adapters/grpc/base64.ts';
import { jsonName, toProtoJson, type ToJsonOptions } from '../adapters/grpc/proto-json.ts';

type Obj = Record<string, unknown>;

/**
 * A reply message as the HTTP response body: the whole message in ProtoJSON, or the field a
 * rule names in `response_body`. An unset or empty field there still answers with its JSON
 * default (`[]`, `{}`, `0`, `null` for a message), never with nothing.
 */
export function responseJson(
  type: protobuf.Type,
  message: Obj,
  responseBody: string | undefined,
  options: ToJsonOptions,
): unknown {
  const json = toProtoJson(type, message, options);
  if (responseBody === undefined) return json;
  const field = type.fields[responseBody];
  if (!field) return json;
  const key = options.useProtoNames ? field.name : jsonName(field);
  const value = (json as Obj)[key];
  if (value !== undefined) return value;
  if (field.map) return {};
  if (field.repeated) return [];
  const withDefaults = toProtoJson(type, message, { ...options, emitDefaults: true }) as Obj;
  return withDefaults[key] ?? null;
}

/** Allowlisted gRPC metadata (response headers and trailers) as HTTP headers. */
export function metadataHeaders(
  metadata: readonly grpc.Metadata[],
  allow: readonly string[],
): [string, string][] {
  const headers: [string, string][] = [];
  for (const name of allow) {
    for (const md of metadata) {
      // Binary (`-bin`) values are bytes; headers carry them as base64, as gRPC-Web does.
      const values = md.get(name).map((v) => (typeof v === 'string' ? v : encodeBase64(v)));
      if (values.length > 0) {
        headers.push([name, values.join(', ')]);
        break;
      }
    }
  }
  return headers;
}
