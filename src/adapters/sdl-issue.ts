import { getLocation, type SourceLocation } from 'graphql';
import type { ConfigIssue } from '../config/errors.ts';

/** Anything of an SDL's AST: it knows its source and offset when parsed with locations. */
export interface Located {
  loc?: { source: { body: string }; start: number } | undefined;
}

/** A config issue at an SDL node: the file, line and column, and the line as written. */
export function issueAt(node: Located, file: string, path: string, message: string): ConfigIssue {
  const source = node.loc?.source;
  const at: SourceLocation =
    source && node.loc ? getLocation(source as never, node.loc.start) : { line: 1, column: 1 };
  const snippet = source?.body.split(/\r?\n/)[at.line - 1];
  return {
    file,
    line: at.line,
    column: at.column,
    path,
    message,
    ...(snippet === undefined ? {} : { snippet }),
  };
}
