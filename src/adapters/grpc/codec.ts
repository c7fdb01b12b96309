import type protobuf from 'protobufjs';

type Obj = Record<string, unknown>;

/**
 * grpc-js (de)serialisers for one message type through protobufjs. `encode` takes a message or
 * a plain object (`fromObject` returns a message unchanged); `decode` gives the message, whose
 * fields read like a plain object's.
 */
export interface MessageCodec {
  encode(value: object): Buffer;
  decode(bytes: Buffer): Obj;
}

export function messageCodec(type: protobuf.Type): MessageCodec {
  return {
    encode: (value) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    decode: (bytes) => type.decode(bytes) as unknown as Obj,
  };
}
