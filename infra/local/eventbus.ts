import { appendFile } from 'node:fs/promises';

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
  private pending = Promise.resolve();

  constructor(private readonly file: string) {}

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
    const entries = ((body as { Entries?: Entry[] }).Entries ?? []).map((entry) => ({
      id: crypto.randomUUID(),
      source: entry.Source ?? '',
      'detail-type': entry.DetailType ?? '',
      time: new Date().toISOString(),
      detail: JSON.parse(entry.Detail ?? '{}') as unknown,
    }));
    const lines = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    // Appends are chained so lines never interleave; consumers run after the append, off the request.
    this.pending = this.pending
      .then(() => appendFile(this.file, lines))
      .then(() =>
        Promise.all(
          entries.flatMap((event) =>
            this.consumers
              .filter((c) => c.detailTypes.has(event['detail-type']))
              .map((c) => c.consume(event).catch(() => undefined)),
          ),
        ).then(() => undefined),
      )
      .catch(() => undefined);
    return { status: 200, body: { FailedEntryCount: 0, Entries: entries.map((e) => ({ EventId: e.id })) } };
  }

  flush(): Promise<void> {
    return this.pending;
  }
}
