import { appendFile } from 'node:fs/promises';
import { INTERNAL_DETAIL_TYPES } from '../../shared/adapters/events';
import { log } from '../../shared/adapters/log';

/**
 * The local EventBridge bus: answers PutEvents in the AWS JSON protocol, appends every event to
 * `<data dir>/events.jsonl`, and hands it to the local consumers (the rules of the AWS stack).
 */
export type Consumer = (event: {
  source: string;
  'detail-type': string;
  detail: unknown;
  time: string;
}) => Promise<void>;

interface Entry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Time?: number | string;
}

export class LocalEventBus {
  private readonly consumers: { detailTypes: Set<string>; consume: Consumer }[] = [];
  private appends: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();

  /** Sees every event put on the bus, internal ones included (tests count them). */
  tap?: (event: { 'detail-type': string; detail: unknown }) => void;
  /** Entries still to refuse (failNextEntries; 0 stops refusing). */
  private toFail = 0;

  constructor(private readonly file: string) {}

  /**
   * Fails the next `count` entries as EventBridge can fail single entries of an accepted PutEvents
   * (FailedEntryCount, ErrorCode per entry): they are neither kept nor delivered.
   */
  failNextEntries(count: number): void {
    this.toFail = count;
  }

  subscribe(detailTypes: string[], consume: Consumer): void {
    this.consumers.push({ detailTypes: new Set(detailTypes), consume });
  }

  handleJsonProtocol(target: string, body: unknown): { status: number; body: unknown } {
    if (target !== 'AWSEvents.PutEvents') {
      return {
        status: 400,
        body: { __type: 'UnknownOperationException', message: `Unsupported: ${target}` },
      };
    }
    const sent = (body as { Entries?: Entry[] }).Entries ?? [];
    const failed = sent.map(() => this.toFail > 0 && this.toFail-- > 0);
    const entries = sent
      .filter((_, i) => !failed[i])
      .map((entry) => ({
        id: crypto.randomUUID(),
        source: entry.Source ?? '',
        'detail-type': entry.DetailType ?? '',
        time: new Date().toISOString(),
        detail: JSON.parse(entry.Detail ?? '{}') as unknown,
      }));
    for (const entry of entries) this.tap?.(entry);
    const lines = entries
      .filter((e) => !INTERNAL_DETAIL_TYPES.has(e['detail-type']))
      .map((e) => `${JSON.stringify(e)}\n`)
      .join('');
    // Appends are chained so lines never interleave; consumers run after their append, off the
    // request and side by side (as EventBridge invokes rule targets independently).
    const appended = this.appends.then(() => appendFile(this.file, lines)).catch(() => undefined);
    this.appends = appended;
    const consumed = appended.then(() =>
      Promise.all(
        entries.flatMap((event) =>
          this.consumers
            .filter((c) => c.detailTypes.has(event['detail-type']))
            .map((c) =>
              c.consume(event).catch((error: unknown) => {
                // EventBridge would retry and then dead-letter it; locally it is logged.
                log.error('event consumer failed', {
                  detailType: event['detail-type'],
                  error: String(error),
                });
              }),
            ),
        ),
      ),
    );
    this.inFlight.add(consumed);
    void consumed.finally(() => this.inFlight.delete(consumed));
    const ids = entries.map((e) => e.id);
    const results = failed.map((fails) =>
      fails
        ? { ErrorCode: 'InternalFailure', ErrorMessage: 'The entry could not be put (failNextEntries).' }
        : { EventId: ids.shift() },
    );
    return { status: 200, body: { FailedEntryCount: failed.filter(Boolean).length, Entries: results } };
  }

  /** Resolves once every event so far is appended and consumed (consumers may publish more). */
  async flush(): Promise<void> {
    await this.appends;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
