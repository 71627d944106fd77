import { Logger } from '@aws-lambda-powertools/logger';

/** Structured JSON logs. Never pass request bodies, headers, secrets or tokens to it. */
export const log = new Logger({
  serviceName: 'gantry',
  logLevel: (process.env.GANTRY_LOG_LEVEL as 'INFO' | undefined) ?? (process.env.VITEST ? 'SILENT' : 'INFO'),
});
