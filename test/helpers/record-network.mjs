// Preloaded with `node --import` into a gateway process under test: records every host name the
// process looks up and every host:port it connects to, one JSON line each, in the file named by
// RECORD_NETWORK_TO. Appended synchronously so that lines written during exit are not lost.
// Plain JavaScript so it loads before tsx registers its loader.
import { appendFileSync } from 'node:fs';
import dns from 'node:dns';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

const file = process.env.RECORD_NETWORK_TO;
if (!file) throw new Error('record-network.mjs needs RECORD_NETWORK_TO');

const record = (kind, host, port) =>
  appendFileSync(
    file,
    `${JSON.stringify({ kind, host: String(host), ...(port === undefined ? {} : { port: Number(port) }) })}\n`,
  );

const lookup = dns.lookup;
dns.lookup = function recordedLookup(hostname, ...rest) {
  record('lookup', hostname);
  return lookup.call(this, hostname, ...rest);
};
const promisesLookup = dns.promises.lookup;
dns.promises.lookup = function recordedPromisesLookup(hostname, ...rest) {
  record('lookup', hostname);
  return promisesLookup.call(this, hostname, ...rest);
};

// Every TCP client (http, undici, grpc-js, gaxios) ends in Socket#connect, with either an
// options object (or node's normalized [options, callback]) or (port, host) / (path) arguments.
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function recordedConnect(...args) {
  const [first] = Array.isArray(args[0]) ? args[0] : args;
  if (typeof first === 'object' && first !== null) {
    // A path is a local socket (IPC, such as tsx's), not the network.
    if (typeof first.path === 'string') record('ipc', first.path);
    else record('connect', first.host ?? 'localhost', first.port);
  } else if (typeof first === 'number' || /^\d+$/.test(String(first))) {
    record('connect', typeof args[1] === 'string' ? args[1] : 'localhost', Number(first));
  } else {
    record('ipc', first);
  }
  return connect.apply(this, args);
};

// ES module importers of node:dns see the patched functions too.
syncBuiltinESMExports();
