// Child process of the bench: a bare @apollo/gateway + @apollo/server with default settings.
import { readFile } from 'node:fs/promises';
import { startBareGateway } from '../test/helpers/bare-gateway.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: bare-gateway.ts <supergraph.graphql>');
const { url, close } = await startBareGateway(await readFile(file, 'utf8'));
process.stdout.write(`${JSON.stringify({ msg: 'gateway listening', url })}\n`);
process.on('SIGTERM', () => void close().then(() => process.exit(0)));
