import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { GrpcChannels } from '../../../src/adapters/grpc/channels.ts';
import { createOutbound } from '../../../src/policies/traffic/chain.ts';
import { createRestAdapter } from '../../../src/adapters/rest/executor.ts';
import { openApiToSdl } from '../../../src/adapters/rest/openapi.ts';

/** A realistic multi-resource document: nested objects, arrays, enums, $ref chains, allOf, oneOf. */
const PETSTORE = {
  openapi: '3.0.3',
  info: { title: 'Pet store', version: '1' },
  paths: {
    '/pets': {
      get: {
        operationId: 'list_pets',
        parameters: [
          { name: 'status', in: 'query', schema: { $ref: '#/components/schemas/PetStatus' } },
          { name: 'page-size', in: 'query', schema: { type: 'integer' } },
          { name: 'session', in: 'cookie', schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: 'ok',
            content: {
              'application/json': {
                schema: { type: 'array', items: { $ref: '#/components/schemas/Pet' } },
              },
            },
          },
        },
      },
      post: {
        operationId: 'addPet',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewPet' } } },
        },
        responses: {
          '201': {
            description: 'created',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } },
          },
        },
      },
    },
    '/pets/{petId}': {
      parameters: [
        { name: 'petId', in: 'path', required: true, schema: { type: 'integer', format: 'int64' } },
      ],
      get: {
        operationId: 'getPet',
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/PetAlias' } } },
          },
        },
      },
      delete: { operationId: 'deletePet', responses: { '204': { description: 'gone' } } },
    },
    '/owners/{ownerId}/photo': {
      put: {
        parameters: [{ name: 'ownerId', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: { content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } },
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Owner' } } },
          },
        },
      },
    },
  },
  components: {
    schemas: {
      PetAlias: { $ref: '#/components/schemas/Pet' },
      PetStatus: { type: 'string', enum: ['available', 'pending', 'sold'] },
      NewPet: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string' },
          tags: { type: 'array', items: { type: 'string' } },
          status: { $ref: '#/components/schemas/PetStatus' },
        },
      },
      Pet: {
        allOf: [
          { $ref: '#/components/schemas/NewPet' },
          {
            type: 'object',
            required: ['id', 'owner'],
            properties: {
              id: { type: 'integer', format: 'int64' },
              owner: { $ref: '#/components/schemas/Owner' },
              'vaccinated-on': { type: 'string', format: 'date', nullable: true },
              weight: { type: 'number' },
              extra: { type: 'object' },
              contact: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
            },
          },
        ],
      },
      Owner: {
        type: 'object',
        required: ['name', 'address'],
        properties: {
          name: { type: 'string' },
          address: {
            type: 'object',
            required: ['city'],
            properties: { city: { type: 'string' }, zip: { type: 'string' } },
          },
          pets: { type: 'array', items: { $ref: '#/components/schemas/PetAlias' } },
        },
      },
    },
  },
};

test('a multi-resource OpenAPI document becomes types, queries and mutations with @rest', () => {
  const { sdl } = openApiToSdl(PETSTORE);
  const expected = [
    'listPets(status: PetStatus, pageSize: Int): [Pet!] @rest(get: "/pets", query: [{ name: "status", value: "{args.status}" }, { name: "page-size", value: "{args.pageSize}" }])',
    'getPet(petId: String!): Pet @rest(get: "/pets/{args.petId}")',
    'addPet(input: NewPetInput!): Pet @rest(post: "/pets", body: "{args.input}")',
    'deletePet(petId: String!): Boolean @rest(delete: "/pets/{args.petId}")',
    'putOwnersByPhoto(ownerId: String!): Owner @rest(put: "/owners/{args.ownerId}/photo")',
    'type Pet {\n  name: String!\n  tags: [String!]\n  status: PetStatus\n  id: String!\n  owner: Owner!\n  vaccinated_on: String @restField(from: "vaccinated-on")\n  weight: Float\n  extra: JSON\n  contact: JSON\n}',
    'type Owner {\n  name: String!\n  address: OwnerAddress!\n  pets: [Pet!]\n}',
    'type OwnerAddress {\n  city: String!\n  zip: String\n}',
    'input NewPetInput {\n  name: String!\n  tags: [String!]\n  status: PetStatus\n}',
    'enum PetStatus {\n  available\n  pending\n  sold\n}',
    'scalar JSON',
  ];
  for (const part of expected) assert.ok(sdl.includes(part), `missing:\n${part}\nin:\n${sdl}`);
});

test('what cannot be mapped is reported by name', () => {
  const { unsupported } = openApiToSdl(PETSTORE);
  assert.deepEqual(unsupported.sort(), [
    'cookie parameter session of GET /pets: skipped',
    'oneOf at GET /pets response.items.contact: mapped to the JSON scalar',
    'request body of PUT /owners/{ownerId}/photo is not application/json: skipped',
  ]);
});

test('the generated SDL builds an executable subgraph', () => {
  const dispatcher = new Agent();
  const adapter = createRestAdapter({
    name: 'pets',
    source: {
      kind: 'rest',
      base_url: 'http://pets.test',
      timeout: 1000,
      headers: {},
      forward_headers: [],
      max_calls_per_operation: 100,
      errors: {},
    },
    openapi: JSON.stringify(PETSTORE),
    file: 'pets.json',
    outbound: createOutbound({ dispatcher, channels: new GrpcChannels() }),
  });
  assert.ok(adapter.schema.getQueryType()?.getFields().listPets);
  assert.equal(adapter.warnings.length, 3);
  void dispatcher.close();
});

test('a document that is not OpenAPI 3 is refused', () => {
  assert.throws(
    () => openApiToSdl({ swagger: '2.0' }),
    /expected an OpenAPI 3\.0 or 3\.1 document/,
  );
});
