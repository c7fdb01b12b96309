import { test } from 'node:test';
import assert from 'node:assert/strict';
import { post, startGatewayOver } from '../helpers/env.ts';

/** A subgraph with an input type and an enum, whose values a client can misspell. */
const notes = {
  name: 'notes',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
enum Color { RED GREEN }
input In { text: String color: Color }
type Query { echo(in: In!): String }`,
  resolvers: { Query: { echo: (_: unknown, args: { in: { text?: string } }) => args.in.text } },
};

test('production variable coercion errors suggest no input field or enum value; development does', async (t) => {
  const prod = await startGatewayOver([notes], { server: { mode: 'production' } });
  const dev = await startGatewayOver([notes], { server: { mode: 'development' } });
  t.after(async () => {
    await prod.close();
    await dev.close();
  });
  const query = 'query($in: In!) { echo(in: $in) }';
  // Each misspelling, and the name graphql-js would suggest for it.
  const cases: [Record<string, unknown>, string][] = [
    [{ in: { txt: 'x' } }, '"text"'],
    [{ in: { text: 'x', color: 'REDD' } }, 'the enum value "RED"'],
  ];
  for (const [variables, suggested] of cases) {
    const ask = (url: string) => post(url, { query, variables });
    const [masked, full] = await Promise.all([ask(prod.gateway.url), ask(dev.gateway.url)]);
    assert.equal(masked.json.errors[0].extensions.code, 'BAD_USER_INPUT');
    assert.match(masked.json.errors[0].message, /^Variable "\$in" got invalid value/);
    const message: string = masked.json.errors[0].message;
    assert.doesNotMatch(message, /Did you mean/);
    assert.ok(!message.includes(suggested), message);
    assert.ok(full.json.errors[0].message.endsWith(`Did you mean ${suggested}?`));
  }
});
