/**
 * The probes `dmemfs compare` runs on a small host per backend (scenario/probe.ts),
 * above all the blast radius of one memory error in a running guest:
 *
 *   guest writes 64M ─ corrupt-pfn at GPA 32M ─ guest reads [0, 32M) ─ guest reads [0, 64M)
 *                                                  survives?            touches the bad page
 */
import { describe, expect, it } from 'vitest';
import { probeBackend } from '../../src/scenario/probe.ts';
import { parseScenario } from '../../src/scenario/scenario.ts';

const SCN = parseScenario(`
host: {memory: 16G, nodes: 2, reserve: 4G}
fleet:
  shapes:
    - {name: a, memory: 2G, count: 1, touch: 16M}
`);

describe('blast radius of one memory error', () => {
  it.each([
    // backend, bytes lost, guest survives, what touching the bad page does
    ['anon-4k', 4096, true, /touching the poisoned page: blast exit=io port=0xf4 status=2/],
    ['hugetlb-2m', 2 * 2 ** 20, true, /touching the poisoned page: blast exit=io port=0xf4 status=2/],
    // the lost GiB holds GPA 0, where vmm writes each job: the VMM's own access kills it
    ['hugetlb-1g', 2 ** 30, false, /memory below the error: vmm: blast: VM process \d+ terminated/],
    // device-dax keeps no record of the error: the 1G block, unmapped, maps again at the VMM's next access;
    // the guest's touch of the bad 4K is a machine check (nothing lost: the region hands the frame out again)
    ['devdax-1g', 0, true, /touching the poisoned page: blast exit=io port=0xf4 status=2.*\(the pool still counts the poisoned page as available\)/],
    // map=0 keeps the mapping: the guest's access is a machine check, the guest's handler ends the program
    ['devdax-map0', 0, true, /touching the poisoned page: blast exit=io port=0xf4 status=2.*\(the pool still counts the poisoned page as available\)/],
    // dmemfs keeps the mapping too (as the DMEMFS series did): a machine check for the guest; the dpage is retired when freed
    ['dmemfs-2m', 2 * 2 ** 20, true, /touching the poisoned page: blast exit=io port=0xf4 status=2/],
    // …so with 1G dpages the VMM's own writes to GPA 0, in the same dpage, go on working (hugetlb-1g's VMM dies)
    ['dmemfs-1g', 2 ** 30, true, /touching the poisoned page: blast exit=io port=0xf4 status=2/],
  ] as const)('%s: %d bytes lost, guest survives %s', (id, lost, survives, what) => {
    const { blast } = probeBackend(SCN, id, () => {});
    expect(blast.bytesLost).toBe(lost);
    expect(blast.guestSurvives).toBe(survives);
    expect(blast.detail).toMatch(what);
    expect(blast.detail).toMatch(/HardwareCorrupted \+4 kB/);
  });
});
