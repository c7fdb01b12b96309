import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Debian's headless Chromium with a fresh profile and no background traffic: this machine has no
 * network beyond loopback, and Chromium's own update and sync calls would only fail slowly.
 * `npm test` finds (or installs) it first and names it in CHROMIUM_PATH (scripts/test-tools.mjs).
 * Host names other than localhost resolve to nothing, so a page that reaches outside fails fast
 * instead of waiting on DNS; `outside` lists every request a page made to a host not on
 * loopback, for tests to assert empty.
 */
export async function launchChromium(): Promise<{
  context: BrowserContext;
  outside: string[];
  close(): Promise<void>;
}> {
  const profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  // A persistent context is how Playwright takes a --user-data-dir: here a fresh, empty one.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  });
  const outside: string[] = [];
  context.on('request', (request) => {
    if (!onLoopback(request.url())) outside.push(request.url());
  });
  return {
    context,
    outside,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Loopback, or no network at all (data: and blob: URLs a page builds itself). */
function onLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}
