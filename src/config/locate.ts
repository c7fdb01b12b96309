import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export interface Location {
  line: number;
  column: number;
  /** The raw source line. */
  snippet: string;
}

/**
 * Finds where a key path sits in the YAML source: the value's node, or the nearest ancestor that
 * exists when the path points at something missing. With `atKey`, the key itself (for unknown
 * keys, where the value is not the problem).
 */
export function locate(
  doc: Document,
  lineCounter: LineCounter,
  source: string,
  path: readonly PropertyKey[],
  atKey = false,
): Location | undefined {
  let node: unknown = doc.contents;
  let found: Node | undefined = isNode(node) ? node : undefined;
  // A missing key is reported at its parent's key (`users:`), where it would have to be added.
  let parentKey: Node | undefined;
  for (const [index, segment] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment),
      );
      if (!pair) {
        found = parentKey ?? found;
        break;
      }
      const last = index === path.length - 1;
      const key = isNode(pair.key) ? pair.key : undefined;
      found = atKey && last && key ? key : isNode(pair.value) ? pair.value : (key ?? found);
      parentKey = key;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (isNode(node)) found = node;
      else break;
    } else {
      break;
    }
  }
  const offset = found?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col, snippet: sourceLine(source, line) };
}

export function sourceLine(source: string, line: number): string {
  return source.split(/\r?\n/)[line - 1] ?? '';
}

function isNode(value: unknown): value is Node {
  return isMap(value) || isSeq(value) || isScalar(value);
}
