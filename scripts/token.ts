// `npm run token -- --sub <id> --scopes "<s1 s2>" [--ttl 1h] [--aud demo-gateway]`: prints a JWT
// from the demo's development issuer (demo/dev-issuer.ts), which the demo gateway accepts. The
// issuer's key is read from .demo-keys/ (DEMO_KEYS_DIR), and made there if `npm start` has not
// made it yet. Only the token goes to stdout, so `TOKEN=$(npm run -s token -- --sub 1)` works.
import { parseArgs } from 'node:util';
import {
  DEMO_KEYS_DIR,
  DEV_AUDIENCE,
  loadOrCreateDevIssuerKey,
  mintDevToken,
} from '../demo/dev-issuer.ts';

const USAGE = `usage: npm run token -- --sub <id> [--scopes "<s1 s2>"] [--ttl <n>[s|m|h|d]] [--aud <audience>]
  --sub     the token's subject (required), e.g. 1
  --scopes  space-separated scopes, e.g. "users:email orders:write" (default: none)
  --ttl     lifetime: seconds, or with a unit s, m, h or d (default: 1h)
  --aud     audience (default: ${DEV_AUDIENCE})
`;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function seconds(ttl: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(ttl);
  const value = match ? Number(match[1]) * (UNITS[match[2] || 's'] as number) : NaN;
  if (!(value > 0))
    throw new Error(`--ttl must be a positive duration like 600, 15m or 1h, got "${ttl}"`);
  return value;
}

try {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      scopes: { type: 'string', default: '' },
      ttl: { type: 'string', default: '1h' },
      aud: { type: 'string', default: DEV_AUDIENCE },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (!values.sub) throw new Error('--sub is required');
  const key = await loadOrCreateDevIssuerKey(process.env.DEMO_KEYS_DIR || DEMO_KEYS_DIR);
  const token = await mintDevToken(key, {
    sub: values.sub,
    scopes: values.scopes.split(/\s+/).filter(Boolean),
    ttlS: seconds(values.ttl),
    audience: values.aud,
  });
  process.stdout.write(`${token}\n`);
} catch (error) {
  process.stderr.write(`token: ${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
