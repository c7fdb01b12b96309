/**
 * Collects the keys asked for in one tick and loads them in one call: the per-request batching a
 * federation subgraph needs so that `_entities` with 20 representations is one backend call.
 */
export function createBatcher<V>(
  load: (keys: string[]) => Promise<Map<string, V>>,
): (key: string) => Promise<V | undefined> {
  let pending: { keys: Set<string>; result: Promise<Map<string, V>> } | undefined;
  return (key) => {
    if (!pending) {
      const keys = new Set<string>();
      const batch = {
        keys,
        result: Promise.resolve().then(() => {
          pending = undefined;
          return load([...keys]);
        }),
      };
      pending = batch;
    }
    pending.keys.add(key);
    return pending.result.then((found) => found.get(key));
  };
}
