import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ResolvedListenerTls } from '../config/load.ts';

type Provider = grpc.experimental.CertificateProvider;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;
type CaListener = grpc.experimental.CaCertificateUpdateListener;

/**
 * The gRPC port's credentials from its PEM files, as a grpc-js certificate provider: grpc-js
 * swaps the bound port's secure context when the provider reports new files (`reload`), so a
 * renewed certificate is served to new connections and open ones keep theirs, as on the HTTP
 * port. A client certificate is asked for unless `client_certificates` is `none`, and required
 * with `required`.
 */
export function createGrpcCredentials(tls: ResolvedListenerTls): {
  credentials: grpc.ServerCredentials;
  /** Reads the files again and hands them to grpc-js; throws, serving the old ones, if unreadable. */
  reload(): void;
} {
  const identity = new Set<IdentityListener>();
  const cas = new Set<CaListener>();
  let current = read(tls);
  createSecureContext(current);
  // The first files reach a listener on the next tick: grpc-js subscribes to the provider
  // before it registers the port that waits for them, and would miss a synchronous answer
  // (its own FileWatcherCertificateProvider reads asynchronously).
  const provider: Provider = {
    addIdentityCertificateListener(listener) {
      identity.add(listener);
      process.nextTick(() => listener({ certificate: current.cert, privateKey: current.key }));
    },
    removeIdentityCertificateListener: (listener) => identity.delete(listener),
    addCaCertificateListener(listener) {
      cas.add(listener);
      const { ca } = current;
      if (ca) process.nextTick(() => listener({ caCertificate: ca }));
    },
    removeCaCertificateListener: (listener) => cas.delete(listener),
  };
  const asksClients = tls.clientCertificates !== 'none' && tls.ca !== undefined;
  // grpc-js's declaration names the two providers the other way round from its implementation,
  // which takes the identity first (server-credentials.js, 1.14): typed through the declaration.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(
    provider,
    asksClients ? provider : null,
    tls.clientCertificates === 'required',
  );
  return {
    credentials,
    reload() {
      const next = read(tls);
      // A key that does not match its certificate (one written before the other) throws here,
      // before grpc-js sees it: the port keeps serving the previous pair.
      createSecureContext(next);
      current = next;
      for (const listener of identity) listener({ certificate: next.cert, privateKey: next.key });
      if (next.ca) for (const listener of cas) listener({ caCertificate: next.ca });
    },
  };
}

function read(tls: ResolvedListenerTls) {
  return {
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
  };
}
