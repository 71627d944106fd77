import type { Release } from './api';

/** Plain text tables and the live view of `version create --wait`. */

export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export const dash = (value: string | number | null | undefined) =>
  value === null || value === undefined || value === '' ? '-' : String(value);

export function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export interface TargetRow {
  environment: string;
  resource: string;
  status: string;
  /** What it waits for, or the release's message. */
  detail: string;
  jobId: string;
  verification: string;
}

export function targetRow(
  target: { environment: string; resource: string },
  release: Release | undefined,
): TargetRow {
  // The service's message says what a waiting release waits for (with the approval id, the window...).
  let detail = release?.message ?? '';
  if (release?.status === 'waiting' && release.waitingFor && !detail) {
    detail = `waiting for ${release.waitingFor.replaceAll('_', ' ')}`;
  } else if (release?.rolledBackTo) {
    detail = `rolled back to ${release.rolledBackTo}${detail ? `: ${detail}` : ''}`;
  }
  return {
    environment: target.environment,
    resource: target.resource,
    status: release?.status ?? 'pending',
    detail,
    jobId: release?.jobId ?? '',
    verification: release?.verification?.status ?? '',
  };
}

/** The message last: on a narrow terminal it is what gets cut. */
export const TARGET_HEADERS = [
  'ENVIRONMENT',
  'RESOURCE',
  'STATUS',
  'JOB',
  'VERIFICATION',
  'WAITING FOR / MESSAGE',
];
export const targetCells = (r: TargetRow) => [
  r.environment,
  r.resource,
  r.status,
  r.jobId,
  r.verification,
  r.detail,
];

/**
 * On a terminal the table is redrawn in place (cursor up, clear to the end of the screen); anywhere
 * else (CI logs) each change of a target is one line.
 */
export class LiveView {
  private readonly seen = new Map<string, string>();
  private drawnLines = 0;
  private readonly started = Date.now();

  constructor(private readonly out: Out) {}

  update(rows: TargetRow[], footer: string): void {
    if (this.out.isTTY) {
      this.redraw(rows, footer);
      return;
    }
    const envWidth = Math.max(...rows.map((r) => r.environment.length));
    const resWidth = Math.max(...rows.map((r) => r.resource.length));
    for (const row of rows) {
      const key = `${row.environment}/${row.resource}`;
      const state = JSON.stringify(targetCells(row).slice(2));
      if (this.seen.get(key) === state) continue;
      this.seen.set(key, state);
      const parts = [
        `[${elapsed(Date.now() - this.started).padStart(6)}]`,
        row.environment.padEnd(envWidth),
        row.resource.padEnd(resWidth),
        row.status.padEnd(12),
        row.jobId ? `job=${row.jobId}` : '',
        row.verification ? `verification=${row.verification}` : '',
        row.detail,
      ];
      this.out.write(`${parts.filter(Boolean).join('  ').trimEnd()}\n`);
    }
  }

  private redraw(rows: TargetRow[], footer: string): void {
    const width = this.out.columns ?? 200;
    const lines =
      `${table(TARGET_HEADERS, rows.map(targetCells))}${footer} (${elapsed(Date.now() - this.started)})`
        .split('\n')
        .map((l) => (l.length > width - 1 ? `${l.slice(0, width - 2)}…` : l));
    const up = this.drawnLines > 1 ? `\x1b[${this.drawnLines - 1}A` : '';
    this.out.write(`${up}\r\x1b[0J${lines.join('\n')}`);
    this.drawnLines = lines.length;
  }

  /** Ends the live region so what follows starts on a fresh line. */
  finish(): void {
    if (this.out.isTTY && this.drawnLines > 0) this.out.write('\n');
  }
}
