// Child process of the bench: the demo users REST service on an ephemeral port.
import { startUsersRest } from '../demo/backends/users-rest.ts';

const users = await startUsersRest();
process.stdout.write(`${JSON.stringify({ url: users.url })}\n`);
process.on('SIGTERM', () => void users.close().then(() => process.exit(0)));
