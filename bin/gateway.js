#!/usr/bin/env node
// The installed `gateway` command: the TypeScript sources as they are, types stripped by Node
// where it can, through tsx's loader where it cannot (see typescript-loader.js).
import './typescript-loader.js';

await import('../src/cli/main.ts');
