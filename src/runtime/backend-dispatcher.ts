import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, type Dispatcher } from 'undici';
import type { ResolvedTls } from '../config/load.ts';

/**
 * The undici dispatcher every HTTP backend call goes through: keep-alive pools per origin, and
 * for the origins the config gives TLS settings (a private CA, a client certificate), pools of
 * their own that connect with them. undici's `connect` options belong to an Agent, not to a
 * request, so each distinct setting gets an Agent; settings are matched by the files' contents,
 * so a reload that keeps them keeps the pools (and their connections), and one that changes a
 * file (a renewed client certificate) connects anew with it.
 */
export class BackendDispatcher extends Agent {
  readonly #options: Agent.Options;
  /** By setting (a hash of the files' contents and the server name). */
  #secure = new Map<string, Agent>();
  #byOrigin = new Map<string, Agent>();

  constructor(options: Agent.Options = {}) {
    super(options);
    this.#options = options;
  }

  /** The TLS settings of backend origins as the config being loaded names them. */
  configure(origins: ReadonlyMap<string, ResolvedTls>): void {
    const secure = new Map<string, Agent>();
    const byOrigin = new Map<string, Agent>();
    for (const [origin, tls] of origins) {
      const connect = {
        ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
        ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
        ...(tls.key ? { key: readFileSync(tls.key) } : {}),
        ...(tls.serverName ? { servername: tls.serverName } : {}),
      };
      const hash = createHash('sha256');
      for (const part of [connect.ca, connect.cert, connect.key, tls.serverName])
        hash.update(part ?? '-').update('\0');
      const key = hash.digest('hex');
      const agent =
        secure.get(key) ?? this.#secure.get(key) ?? new Agent({ ...this.#options, connect });
      secure.set(key, agent);
      byOrigin.set(origin, agent);
    }
    // Pools no setting uses any more finish what they carry, then close.
    for (const [key, agent] of this.#secure) if (!secure.has(key)) void agent.close();
    this.#secure = secure;
    this.#byOrigin = byOrigin;
  }

  /** The pool an origin's calls go through when it has TLS settings. */
  poolOf(origin: string): Dispatcher | undefined {
    return this.#byOrigin.get(origin);
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
    if (this.#byOrigin.size === 0) return super.dispatch(options, handler);
    const { origin } = options;
    const named = typeof origin === 'string' ? origin.replace(/\/$/, '') : String(origin?.origin);
    // An instance of a backend (balancing) is called at its own address with the backend's
    // host as the Host header: it connects with the backend's settings, the host as TLS name.
    const secure = this.#byOrigin.get(named) ?? this.#byOrigin.get(logicalOrigin(named, options));
    return secure ? secure.dispatch(options, handler) : super.dispatch(options, handler);
  }

  /** Closes every pool at once (shutdown: nobody is waiting for the answers). */
  async destroyAll(): Promise<void> {
    await Promise.all([this.destroy(), ...[...this.#secure.values()].map((a) => a.destroy())]);
  }

  /** Closes every pool once its requests are answered. */
  async closeAll(): Promise<void> {
    await Promise.all([this.close(), ...[...this.#secure.values()].map((a) => a.close())]);
  }
}

/** `scheme://host` of a call's Host header, when it names one. */
function logicalOrigin(origin: string, options: Dispatcher.DispatchOptions): string {
  const headers = options.headers as Record<string, string | string[] | undefined> | null;
  const host = headers && !Array.isArray(headers) ? headers.host : undefined;
  return typeof host === 'string' ? `${origin.slice(0, origin.indexOf('//'))}//${host}` : '';
}
