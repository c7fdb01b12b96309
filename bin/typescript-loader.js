// Loads the TypeScript sources with no loader where Node strips types itself (on by default from
// Node 22.18 and 23.6: `process.features.typescript` is then 'strip'), and registers tsx's loader
// only where it cannot: Node 20, a run with --no-experimental-strip-types, or a copy installed
// under node_modules/, where Node refuses to strip types (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING).
// Import it first (`node --import ./bin/typescript-loader.js x.ts`, or as the first import).
// The sources keep to erasable syntax (tsconfig's erasableSyntaxOnly) so that stripping suffices.
import { sep } from 'node:path';

const underNodeModules = import.meta.dirname.split(sep).includes('node_modules');
if (!process.features.typescript || underNodeModules) {
  const { register } = await import('tsx/esm/api');
  register();
}
