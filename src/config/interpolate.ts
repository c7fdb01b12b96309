/**
 * `${VAR}` and `${VAR:-default}` in config values; `$${` is a literal `${`. The default applies
 * when the variable is unset or empty (POSIX shell `:-`).
 */
const TOKEN = /\$\$\{|\$\{([^}]*)\}?/g;
const EXPRESSION = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

export class InterpolationError extends Error {}

export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (!text.includes('${')) return text;
  return text.replace(TOKEN, (token: string, body: string | undefined) => {
    if (token === '$${') return '${';
    if (!token.endsWith('}'))
      throw new InterpolationError(`unclosed "\${" (write $\${ for a literal "\${")`);
    const match = EXPRESSION.exec(body ?? '');
    if (!match) {
      throw new InterpolationError(
        `"\${${body}}" is not a variable reference; write \${NAME} or \${NAME:-default}`,
      );
    }
    const [, name = '', fallback] = match;
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    throw new InterpolationError(
      `environment variable ${name} is not set (write \${${name}:-default} to give one)`,
    );
  });
}
