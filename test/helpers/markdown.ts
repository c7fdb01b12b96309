// Reading the docs the way their tests need: pages by name, tables as header + rows, code spans.
// GitHub-flavoured tables only (one row a line, cells between pipes, `\|` inside a cell).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

/** A page of docs/ (or README.md), as text. */
export function readDoc(name: string): string {
  return readFileSync(join(ROOT, name === 'README.md' ? name : join('docs', name)), 'utf8');
}

export interface Table {
  /** Header cells, lower-cased, code spans kept as written. */
  header: string[];
  rows: string[][];
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/** Every table of a page, in order. */
export function tables(markdown: string): Table[] {
  const found: Table[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.startsWith('|') || !/^\|[\s:|-]+\|$/.test((lines[i + 1] as string).trim())) continue;
    const header = cells(line).map((h) => h.toLowerCase());
    const rows: string[][] = [];
    for (i += 2; i < lines.length && (lines[i] as string).startsWith('|'); i++)
      rows.push(cells(lines[i] as string));
    found.push({ header, rows });
  }
  return found;
}

/** The tables whose first header cell is `first`. */
export function tablesFirstColumn(markdown: string, first: string): Table[] {
  return tables(markdown).filter((t) => t.header[0] === first);
}

/** The code spans of a cell, without their backticks. */
export function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
}

/** The text of a cell that is exactly one code span, else undefined. */
export function onlyCode(cell: string): string | undefined {
  return /^`[^`]+`$/.test(cell) ? cell.slice(1, -1) : undefined;
}
