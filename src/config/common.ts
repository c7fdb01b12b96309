import { isIP } from 'node:net';
import { z } from 'zod';

/** The value formats every section shares: durations, sizes, header names. */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `250ms`, `10s`, `1.5m`, `1h`, or a whole number of milliseconds. */
export const Duration = z
  .union(
    [
      z.number().int().nonnegative(),
      z
        .string()
        .regex(DURATION, 'expected a duration such as 250ms, 10s, 2m, or a number of milliseconds'),
    ],
    {
      error: 'expected a duration such as 250ms, 10s, 2m, or a number of milliseconds',
    },
  )
  .transform((value) => {
    if (typeof value === 'number') return value;
    const [, amount, unit] = DURATION.exec(value) as RegExpExecArray;
    return Math.round(Number(amount) * (UNIT_MS[unit as string] as number));
  });

const BYTES = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)$/i;
const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1_000,
  kib: 1_024,
  mb: 1_000_000,
  mib: 1_048_576,
  gb: 1_000_000_000,
  gib: 1_073_741_824,
};

/** `512kb`, `1mib`, `2MB`, or a whole number of bytes. */
export const ByteSize = z
  .union(
    [
      z.number().int().positive(),
      z.string().regex(BYTES, 'expected a size such as 512kb, 1mib, 2mb, or a number of bytes'),
    ],
    {
      error: 'expected a size such as 512kb, 1mib, 2mb, or a number of bytes',
    },
  )
  .transform((value) => {
    if (typeof value === 'number') return value;
    const [, amount, unit] = BYTES.exec(value) as RegExpExecArray;
    return Math.round(Number(amount) * (UNIT_BYTES[(unit as string).toLowerCase()] as number));
  });

export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** One header name (or gRPC metadata key), lower-cased. */
export const HeaderName = z
  .string()
  .regex(HEADER_NAME, 'expected an HTTP header name')
  .transform((h) => h.toLowerCase());

/** Header names, lower-cased. @default [] */
export const HeaderNames = z
  .array(
    z
      .string()
      .regex(HEADER_NAME, 'expected an HTTP header name')
      .transform((h) => h.toLowerCase()),
  )
  .default([]);

/** An IP address or a CIDR range: `10.0.0.1`, `10.0.0.0/8`, `fd00::/8`. */
export const IpRange = z.string().refine((value) => {
  const [address = '', prefix, extra] = value.split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (version === 4 ? 32 : 128);
}, 'expected an IP address or a CIDR range (10.0.0.0/8, fd00::/8)');
