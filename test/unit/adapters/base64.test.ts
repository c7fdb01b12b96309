import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Base64Error, decodeBase64, encodeBase64 } from '../../../src/adapters/grpc/base64.ts';

/** [text, bytes]: both alphabets, with and without padding, as ProtoJSON parsers accept. */
const READS: [string, number[]][] = [
  ['', []],
  ['AA==', [0]],
  ['AA', [0]],
  ['AAE=', [0, 1]],
  ['AAE', [0, 1]],
  ['AAEC', [0, 1, 2]],
  ['+/8=', [0xfb, 0xff]],
  ['+/8', [0xfb, 0xff]],
  ['-_8=', [0xfb, 0xff]],
  ['-_8', [0xfb, 0xff]],
  ['AAH/+w==', [0, 1, 0xff, 0xfb]],
  ['AAH_-w', [0, 1, 0xff, 0xfb]],
];
for (const [text, bytes] of READS) {
  test(`"${text}" reads as [${bytes.join(', ')}]`, () => {
    assert.deepEqual([...decodeBase64(text)], bytes);
  });
}

/** [bytes, text]: one form out, the standard alphabet with padding. */
const WRITES: [number[], string][] = [
  [[], ''],
  [[0], 'AA=='],
  [[0, 1], 'AAE='],
  [[0, 1, 2], 'AAEC'],
  [[0xfb, 0xff], '+/8='],
  [[0, 1, 0xff, 0xfb], 'AAH/+w=='],
];
for (const [bytes, text] of WRITES) {
  test(`[${bytes.join(', ')}] writes as "${text}"`, () => {
    assert.equal(encodeBase64(Uint8Array.from(bytes)), text);
    assert.equal(encodeBase64(bytes), text);
  });
}

test('a Buffer that is a slice of a larger one writes only its own bytes', () => {
  assert.equal(encodeBase64(Buffer.from([9, 9, 0xfb, 0xff, 9]).subarray(2, 4)), '+/8=');
});

/** [text, why it is refused] */
const REFUSED: [string, string][] = [
  ['not base64!', 'has a character outside the base64 alphabets'],
  ['AA AA', 'has a character outside the base64 alphabets'],
  ['AA\nAA', 'has a character outside the base64 alphabets'],
  ['AA=A', 'has a character outside the base64 alphabets'],
  ['+_8=', 'mixes the standard (+/) and URL-safe (-_) alphabets'],
  ['AAAAA', 'has a length no base64 text has'],
  ['A===', 'has a length no base64 text has'],
  ['AA=', 'has padding that does not fill its last group of four'],
  ['AAA==', 'has padding that does not fill its last group of four'],
  ['AAAA=', 'has padding that does not fill its last group of four'],
  ['AA======', 'has padding that does not fill its last group of four'],
  ['=', 'has padding that does not fill its last group of four'],
];
for (const [text, why] of REFUSED) {
  test(`${JSON.stringify(text)} is refused: it ${why}`, () => {
    assert.throws(
      () => decodeBase64(text),
      (error: unknown) => error instanceof Base64Error && error.message === why,
    );
  });
}
