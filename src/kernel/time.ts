/**
 * The host's virtual clock (kernel/time): CLOCK_MONOTONIC from boot, and a
 * CLOCK_REALTIME that starts at a fixed epoch. Nothing reads the wall clock, so
 * every run of the same script gives the same timestamps.
 */

/** CLOCK_REALTIME at boot: 2026-01-01 00:00:00 UTC, in nanoseconds. */
export const BOOT_EPOCH_NS = 1767225600 * 1e9;

/** A monotonic nanosecond counter advanced only by the model. */
export class Clock {
  private ns = 0;

  /** Nanoseconds since boot (CLOCK_MONOTONIC). */
  now(): number {
    return this.ns;
  }

  /** Nanoseconds since the Unix epoch (CLOCK_REALTIME). */
  realtime(): number {
    return BOOT_EPOCH_NS + this.ns;
  }

  /** Let `ns` nanoseconds pass. */
  advance(ns: number): void {
    this.ns += ns;
  }
}
