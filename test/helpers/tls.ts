import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway CA, a server certificate for 127.0.0.1 and localhost, and a client certificate,
 * made with openssl for one test run: no key material lives in the repository.
 */
export async function makeCertificates() {
  const dir = await mkdtemp(join(tmpdir(), 'tls-'));
  const openssl = (cwd: string, ...args: string[]) =>
    execFileSync('openssl', args, { cwd, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    dir,
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=gateway test CA',
  );
  await writeFile(join(dir, 'server.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await writeFile(join(dir, 'client.cnf'), 'extendedKeyUsage=clientAuth\n');
  /** A key and a certificate signed by the CA, written as `<name>.key` and `<name>.pem`. */
  const issue = (name: string, cn: string, ext: string) => {
    openssl(
      dir,
      'req',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    );
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      ext,
    );
  };
  issue('server', 'localhost', 'server.cnf');
  issue('client', 'gateway test client', 'client.cnf');
  return {
    dir,
    ca: await readFile(join(dir, 'ca.pem')),
    cert: await readFile(join(dir, 'server.pem')),
    key: await readFile(join(dir, 'server.key')),
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
    clientCert: await readFile(join(dir, 'client.pem')),
    clientKey: await readFile(join(dir, 'client.key')),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    /**
     * A new server key and certificate (another serial) replace server.key and server.pem, each
     * renamed into place as deployments do; resolves to the new certificate.
     */
    async renewServer(): Promise<Buffer> {
      issue('renewed', 'localhost', 'server.cnf');
      await rename(join(dir, 'renewed.key'), join(dir, 'server.key'));
      await rename(join(dir, 'renewed.pem'), join(dir, 'server.pem'));
      return readFile(join(dir, 'server.pem'));
    },
  };
}
