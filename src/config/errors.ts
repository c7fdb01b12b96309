import { relative, isAbsolute } from 'node:path';

/** One problem in a config file, located as precisely as the file allows. */
export interface ConfigIssue {
  file: string;
  line?: number;
  column?: number;
  /** Dotted key path, e.g. `subgraphs.users.routing_url`; empty for the whole file. */
  path: string;
  message: string;
  /** The raw source line (as written: `${VAR}` unexpanded), shown under the message. */
  snippet?: string;
}

/**
 * Every problem of a config at once, sorted by line, each as
 * `supergraph.yaml:12:5: subgraphs.users.routing_url: expected an http or https URL` followed by
 * the line as written and a caret (Apollo Router and rustc print theirs this way).
 */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const sorted = [...issues].sort(
      (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
    );
    super(sorted.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = sorted;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const file = displayPath(issue.file);
  const where =
    issue.line === undefined ? `${file}:` : `${file}:${issue.line}:${issue.column ?? 1}:`;
  const head = `${where} ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
  if (issue.snippet === undefined || issue.line === undefined) return head;
  const gutter = String(issue.line).length + 1;
  const caret = `${' '.repeat(gutter)} | ${' '.repeat(Math.max(0, (issue.column ?? 1) - 1))}^`;
  return `${head}\n${String(issue.line).padStart(gutter)} | ${issue.snippet}\n${caret}`;
}

/** Relative to the working directory when inside it: shorter, and what the user typed. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
