/**
 * A fleet given as a trace of arrivals and departures (examples/churn.yaml):
 * memory a departed VM gave back is used again by the next arrivals, whatever
 * the backend's unit.
 *
 *   arrive 12 × 2G ─ depart the 6 oldest ─ arrive 2 × 8G ─ arrive 8 × 2G    (28G for guests)
 *   [■■■■■■■■■■■■]   [      ■■■■■■]       [■■■■■■■■ ■■■■■■■■ ■■■■■■]      dmemfs-2m: full
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import { compare } from '../../src/scenario/runner.ts';
import { parseScenario } from '../../src/scenario/scenario.ts';

const SCN = parseScenario(readFileSync(new URL('../../examples/churn.yaml', import.meta.url), 'utf8'), 'churn');

describe('a trace of arrivals and departures (examples/churn.yaml)', () => {
  const res = compare(SCN, { noProbes: true });
  const by = (id: string) => res.results.find((r) => r.id === id)!;
  const fits = (id: string): number[] => by(id).density.map((d) => d.fits);

  it('the header lists the trace, step by step', () => {
    expect(res.scenario.fleet.filter((l) => l.startsWith('trace:'))).toEqual([
      'trace: arrive 12× small',
      'trace: depart 6× small',
      'trace: arrive 2× big',
      'trace: arrive 8× small',
    ]);
  });

  it('every backend places a big VM in memory the departed small ones gave back (12 × 2G alone leaves too little for one)', () => {
    for (const r of res.results) {
      expect(r.error, r.id).toBeUndefined();
      expect(r.guestAvailable - 12 * 2 * GiB, r.id).toBeLessThan(8 * GiB);
      expect(fits(r.id)[1], r.id).toBeGreaterThanOrEqual(1);
      expect(fits(r.id)[0], r.id).toBeGreaterThanOrEqual(12);
    }
  });

  it('dmemfs-2m: 28G of dpages, exactly filled by 6 small and 2 big VMs; the last wave finds nothing left', () => {
    expect(by('dmemfs-2m').guestAvailable).toBe(28 * GiB);
    expect(fits('dmemfs-2m')).toEqual([12, 2]);
    expect(by('dmemfs-2m').guestUsed).toBe(6 * 2 * GiB + 2 * 8 * GiB);
    expect(by('dmemfs-2m').density[0]!.failure).not.toBe('');
  });
});
