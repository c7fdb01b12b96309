// Child process of the bench: the REST service of the REST adapter tests, on an ephemeral port.
import { startLibrary } from '../test/fixtures/rest/library.ts';

const library = await startLibrary();
// The bench makes millions of calls; the test fixture's call log would only grow.
library.calls.push = () => 0;
process.stdout.write(`${JSON.stringify({ url: library.url })}\n`);
process.on('SIGTERM', () => void library.close().then(() => process.exit(0)));
