import type { ServerConfig } from '../../src/config/schema.ts';
import { composeSupergraph } from '../../src/composition/compose.ts';
import { startBareGateway } from './bare-gateway.ts';
import { startTestGateway, writeProject, type TestGateway } from './env.ts';

/**
 * This gateway and a bare Apollo Gateway over the same subgraphs (each as declared: its name,
 * URL and the SDL the graph is composed from), for tests that compare their answers.
 */
export async function startParityPair(
  subgraphs: readonly { name: string; url: string; sdl: string }[],
  server: Partial<ServerConfig> = {},
): Promise<{ ours: TestGateway; bare: { url: string }; close(): Promise<void> }> {
  const project = await writeProject(subgraphs);
  const ours = await startTestGateway({ configFile: project.configFile, server });
  const { supergraphSdl } = composeSupergraph(
    subgraphs.map((s) => ({ name: s.name, url: s.url, sdl: s.sdl, sourceName: s.name })),
  );
  const bare = await startBareGateway(supergraphSdl);
  return {
    ours,
    bare,
    async close() {
      await ours.close();
      await bare.close();
      await project.remove();
    },
  };
}
