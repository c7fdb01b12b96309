/**
 * The one base64 rule of the gateway, for bytes in ProtoJSON, the gRPC adapter's `Base64`
 * scalar and binary (`-bin`) metadata. Reading is liberal, as ProtoJSON parsers must be: "either
 * standard or URL-safe base64 encoding with/without paddings are accepted"
 * (https://protobuf.dev/programming-guides/json/). Writing is one form, the standard alphabet
 * with padding (RFC 4648 section 4), which is what protoc writes.
 */

/** Text that is not base64; the message says why, the caller says where. */
export class Base64Error extends Error {
  override readonly name = 'Base64Error';
}

const STANDARD = /^[A-Za-z0-9+/]*$/;
// RFC 4648 section 5: `-` and `_` in place of `+` and `/`.
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

/**
 * Bytes as standard base64 with padding: `[0xfb, 0xff]` is `+/8=`. An array of numbers is
 * bytes too: protobufjs's default for an unset `bytes` field is an empty array.
 */
export function encodeBase64(bytes: Uint8Array | readonly number[]): string {
  return Buffer.from(bytes).toString('base64');
}

/**
 * The bytes of standard or URL-safe base64, padded or not. One text uses one alphabet: Go's
 * protojson, for one, reads `+` and `_` together as neither. Throws Base64Error.
 */
export function decodeBase64(text: string): Buffer {
  const body = text.replace(/=+$/, '');
  const padding = text.length - body.length;
  if (!STANDARD.test(body) && !URL_SAFE.test(body)) {
    throw new Base64Error(
      /^[A-Za-z0-9+/_-]*$/.test(body)
        ? 'mixes the standard (+/) and URL-safe (-_) alphabets'
        : 'has a character outside the base64 alphabets',
    );
  }
  // Four characters carry three bytes; a lone character in the last group carries none.
  if (body.length % 4 === 1) throw new Base64Error('has a length no base64 text has');
  if (padding > 0 && padding !== 4 - (body.length % 4))
    throw new Base64Error('has padding that does not fill its last group of four');
  // Node's decoder reads both alphabets, padded or not.
  return Buffer.from(body, 'base64');
}
