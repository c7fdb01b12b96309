import { pino, type DestinationStream, type Logger } from 'pino';

export interface LogOptions {
  level: string;
}

/**
 * The process logger: JSON lines on stdout. Header values never reach it (request contexts are
 * logged by field, not whole), and these paths are censored wherever they appear in a logged
 * object, as a second line of defence.
 */
export function createLogger(options: LogOptions, destination?: DestinationStream): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'gateway' },
      redact: {
        paths: [
          'headers.authorization',
          'headers.cookie',
          'headers["x-api-key"]',
          'req.headers.authorization',
          'req.headers.cookie',
          '*.authorization',
          '*.password',
          '*.token',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
