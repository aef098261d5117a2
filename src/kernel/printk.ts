/**
 * The kernel log ring (kernel/printk/printk.c), read by dmesg through syslog(2).
 * Timestamps come from the host's virtual clock, so the log is deterministic.
 */

/** Log levels as in include/linux/kern_levels.h. */
export const KERN_EMERG = 0;
export const KERN_ALERT = 1;
export const KERN_CRIT = 2;
export const KERN_ERR = 3;
export const KERN_WARNING = 4;
export const KERN_NOTICE = 5;
export const KERN_INFO = 6;
export const KERN_DEBUG = 7;

/** One record of the log. */
export interface LogRecord {
  timeNs: number;
  level: number;
  text: string;
}

/** The ring of kernel messages. */
export class KernelLog {
  private readonly records: LogRecord[] = [];

  constructor(private readonly clockNs: () => number) {}

  /** printk(): one record per line of `text`. */
  printk(level: number, text: string): void {
    const timeNs = this.clockNs();
    for (const line of text.split('\n')) this.records.push({ timeNs, level, text: line });
  }

  info(text: string): void {
    this.printk(KERN_INFO, text);
  }

  warn(text: string): void {
    this.printk(KERN_WARNING, text);
  }

  err(text: string): void {
    this.printk(KERN_ERR, text);
  }

  /** All records, oldest first. */
  all(): readonly LogRecord[] {
    return this.records;
  }

  /** The log as dmesg prints it: `[    0.000000] text` per line. */
  render(): string {
    return this.records.map((r) => `${formatTimestamp(r.timeNs)} ${r.text}\n`).join('');
  }

  /** SYSLOG_ACTION_CLEAR. */
  clear(): void {
    this.records.length = 0;
  }
}

/** `[%5lu.%06lu]` as printk prints a timestamp. */
export function formatTimestamp(ns: number): string {
  const sec = Math.floor(ns / 1e9);
  const usec = Math.floor((ns % 1e9) / 1e3);
  return `[${String(sec).padStart(5, ' ')}.${String(usec).padStart(6, '0')}]`;
}
