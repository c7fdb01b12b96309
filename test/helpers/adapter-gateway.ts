import { stringify } from 'yaml';
import { ORDERS_PROTO, PROTOS_DIR, startOrdersGrpc } from '../../demo/backends/orders-grpc.ts';
import { startLibrary } from '../fixtures/rest/library.ts';
import { startTestGateway, writeProject } from './env.ts';

/**
 * Both adapters over real backends, through our gateway: the library REST service with
 * `librarySdl` and the demo's orders gRPC service with `ordersOverlay`. Every gRPC call is
 * recorded in `grpcCalls`, every REST call in `library.calls`.
 */
export async function startAdapterGateway(options: {
  librarySdl: string;
  ordersOverlay: string;
  /** Extra top-level keys of supergraph.yaml (`server`...). */
  config?: Record<string, unknown>;
  stages?: Parameters<typeof startTestGateway>[0]['stages'];
}) {
  const library = await startLibrary();
  const grpcCalls: { method: string; request: any }[] = [];
  const orders = await startOrdersGrpc({
    onCall: (_metadata, method, request) => grpcCalls.push({ method, request }),
  });
  const project = await writeProject([]);
  await project.write('library.graphql', options.librarySdl);
  await project.write('orders.graphql', options.ordersOverlay);
  await project.write(
    'supergraph.yaml',
    stringify({
      ...options.config,
      subgraphs: {
        library: {
          schema: { file: './library.graphql' },
          source: { kind: 'rest', base_url: library.url },
        },
        orders: {
          schema: { file: './orders.graphql' },
          source: {
            kind: 'grpc',
            address: orders.url,
            protos: [ORDERS_PROTO],
            include_dirs: [PROTOS_DIR],
          },
        },
      },
    }),
  );
  const gateway = await startTestGateway({
    configFile: project.configFile,
    ...(options.stages ? { stages: options.stages } : {}),
  });
  return {
    gateway,
    library,
    grpcCalls,
    close: async () => {
      await gateway.close();
      await orders.close();
      await library.close();
      await project.remove();
    },
  };
}
