import type { IdentityHeaderNames, IdentityProof } from '../../kernel/outbound.ts';
import type { Interceptor } from './exchange.ts';

/** Printable ASCII: anything else in a header value is percent-encoded (UTF-8). */
const PLAIN = /^[\x20-\x24\x26-\x7e]*$/;

const headerValue = (value: string): string =>
  PLAIN.test(value) ? value : encodeURIComponent(value);

/**
 * The verified identity, and only it, under the identity names: whatever a client sent under
 * those names (a header a rule forwards, gRPC metadata on the port, a proxied route's header)
 * is dropped first, then the subject, scopes and client id `authenticate` verified are set, and
 * the gateway's proof that it made the call (policies/auth/gateway-proof.ts). The proof goes on
 * every call, an anonymous caller's too, so backends can refuse whatever did not come through
 * the gateway. Values outside printable ASCII are percent-encoded, `%` included.
 */
export function identityHeaders(
  names: IdentityHeaderNames,
  proof: IdentityProof | undefined,
): Interceptor {
  return (next) => (exchange) => {
    const { headers } = exchange;
    delete headers[names.subject];
    delete headers[names.scopes];
    delete headers[names.clientId];
    delete headers[names.proof];
    const identity = exchange.ctx?.identity;
    const sent: Record<string, string> = {};
    if (identity) {
      sent[names.subject] = headerValue(identity.subject);
      if (identity.scopes.length > 0) sent[names.scopes] = headerValue(identity.scopes.join(' '));
      if (identity.clientId !== undefined) sent[names.clientId] = headerValue(identity.clientId);
      Object.assign(headers, sent);
    }
    if (proof) headers[names.proof] = proof.proofFor(identity, sent);
    return next(exchange);
  };
}
