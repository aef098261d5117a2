/** Scenario validation: every error names the field it is about. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GiB, MiB } from '../../src/lib/size.ts';
import { BACKEND_IDS } from '../../src/scenario/result.ts';
import { ScenarioError, parseScenario } from '../../src/scenario/scenario.ts';

const OK = `
host: {memory: 16G, nodes: 2}
fleet:
  shapes:
    - {name: a, memory: 2G, count: 2, touch: 0.5}
    - {name: b, memory: 1G, fill: true, touch: 8M}
`;

function err(yaml: string): string {
  try {
    parseScenario(yaml);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('parseScenario', () => {
  it('fills defaults and converts sizes and fractions', () => {
    const s = parseScenario(OK, 'x');
    expect(s.name).toBe('x');
    expect(s.seed).toBe(1);
    expect(s.host).toMatchObject({ memory: 16 * GiB, nodes: 2, cpus: 8, reserve: 2 * GiB });
    expect(s.shapes[0]).toMatchObject({ name: 'a', memory: 2 * GiB, count: 2, fill: false, touch: GiB, pattern: 'seq', write: false, vfio: false });
    expect(s.shapes[1]).toMatchObject({ fill: true, count: null, touch: 8 * MiB });
    expect(s.backends).toEqual([...BACKEND_IDS]);
  });

  it('the default scenario parses', () => {
    const s = parseScenario(readFileSync(join(import.meta.dirname, '../../examples/default.yaml'), 'utf8'));
    expect(s.host.memory).toBe(1024 * GiB);
    expect(s.host.nodes).toBe(2);
  });

  it.each([
    ['fleet:\n  shapes:\n    - {name: a, memory: 16G, count: 1}\n    - {name: b, memory: 16Q, count: 1}\nhost: {memory: 64G}', 'fleet.shapes[1].memory: expected a size like 16G, got "16Q"'],
    ['fleet: {shapes: [{name: a, memory: 1G, count: 1}]}', 'host: required'],
    ['host: {memory: 64G}', 'fleet: required'],
    ['host: {memory: lots}\nfleet: {shapes: [{name: a, memory: 1G, count: 1}]}', 'host.memory: expected a size like 16G, got "lots"'],
    ['host: {memory: 64G, nodes: 0}\nfleet: {shapes: [{name: a, memory: 1G, count: 1}]}', 'host.nodes: must be between 1 and 64, got 0'],
    ['host: {memory: 64G, reserve: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1}]}', 'host.reserve: must be less than host.memory'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G}]}', 'fleet.shapes[0].count: required (or fill: true)'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1, fill: true}]}', 'fleet.shapes[0].count: give either count or fill'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1, pattern: zigzag}]}', 'fleet.shapes[0].pattern: expected seq, random or hot-cold, got "zigzag"'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1, touch: 2}]}', 'fleet.shapes[0].touch: expected a fraction between 0 and 1'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1, touch: 2G}]}', 'fleet.shapes[0].touch: "2G" is more than'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1, vfio: yes-please}]}', 'fleet.shapes[0].vfio: expected true or false'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1, colour: red}]}', 'fleet.shapes[0].colour: unknown field'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1}, {name: a, memory: 1G, count: 1}]}', 'fleet.shapes[1].name: duplicate shape name "a"'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G}], trace: [{arrive: b}]}', 'fleet.trace[0].arrive: no shape named "b"'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1}]}\nbackends: [anon-4k, zfs]', 'backends[1]: unknown backend "zfs"'],
    ['host: {memory: 64G}\nfleet: {shapes: [{name: a, memory: 1G, count: 1}]}\nseed: -1', 'seed: must be between'],
    ['host: [1\n', 'YAML:'],
  ])('%#: %s', (yaml, want) => {
    expect(err(yaml)).toContain(want);
  });
});
