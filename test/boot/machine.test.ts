import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { describeMachine, machineFromFlags, parseMachineYaml } from '../../src/kernel/boot/machine.ts';
import { GiB, MiB, TiB } from '../../src/lib/size.ts';

describe('machineFromFlags', () => {
  it('defaults: 64 GiB, one node, 4 CPUs', () => {
    const m = machineFromFlags({});
    expect(m.memBytes).toBe(64 * GiB);
    expect(m.nodes).toEqual([{ id: 0, memBytes: 64 * GiB, cpus: 4 }]);
    expect(m.distances).toEqual([[10]]);
  });

  it('splits evenly in 128 MiB units, remainder on the last node', () => {
    // 3 GiB over 2 nodes: 24 units → 12 + 12
    expect(machineFromFlags({ mem: 3 * GiB, nodes: 2 }).nodes.map((n) => n.memBytes)).toEqual([1.5 * GiB, 1.5 * GiB]);
    // 1 GiB over 3 nodes: 8 units → 2 + 2 + 4
    expect(machineFromFlags({ mem: GiB, nodes: 3 }).nodes.map((n) => n.memBytes)).toEqual([256 * MiB, 256 * MiB, 512 * MiB]);
    // 300 MiB over 2 nodes: 128M + 172M
    expect(machineFromFlags({ mem: 300 * MiB, nodes: 2 }).nodes.map((n) => n.memBytes)).toEqual([128 * MiB, 172 * MiB]);
  });

  it('SLIT distances: 10 local, 20 remote', () => {
    expect(machineFromFlags({ nodes: 3 }).distances).toEqual([
      [10, 20, 20],
      [20, 10, 20],
      [20, 20, 10],
    ]);
  });

  it('cpus is per node', () => {
    const m = machineFromFlags({ nodes: 2, cpus: 8 });
    expect(m.nodes.map((n) => n.cpus)).toEqual([8, 8]);
  });

  it('rejects bad sizes and counts', () => {
    expect(() => machineFromFlags({ mem: 128 * MiB })).toThrow('machine: memory: at least 256M: 128M');
    expect(() => machineFromFlags({ mem: GiB + 1 })).toThrow('machine: memory: must be a multiple of 4K');
    expect(() => machineFromFlags({ nodes: 65 })).toThrow('machine: nodes: at most 64 nodes: 65');
    expect(() => machineFromFlags({ mem: 256 * MiB, nodes: 4 })).toThrow('cannot give each of 4 nodes');
  });

  it('property: node memory always sums to the total and every node gets memory', () => {
    fc.assert(
      fc.property(fc.integer({ min: 65536, max: 2 ** 30 }), fc.integer({ min: 1, max: 64 }), (pages, n) => {
        const mem = pages * 4096;
        let m;
        try {
          m = machineFromFlags({ mem, nodes: n });
        } catch {
          return mem < n * 128 * MiB || mem < 256 * MiB;
        }
        const sum = m.nodes.reduce((s, nd) => s + nd.memBytes, 0);
        return sum === mem && m.nodes.every((nd) => nd.memBytes > 0);
      }),
    );
  });
});

describe('parseMachineYaml', () => {
  it('count form', () => {
    const m = parseMachineYaml('memory: 64G\ncpus_per_node: 8\nnodes: 2\ndistances: [[10, 21], [21, 10]]\n');
    expect(m.nodes).toEqual([
      { id: 0, memBytes: 32 * GiB, cpus: 8 },
      { id: 1, memBytes: 32 * GiB, cpus: 8 },
    ]);
    expect(m.distances).toEqual([
      [10, 21],
      [21, 10],
    ]);
  });

  it('list form: total is optional and taken from the nodes', () => {
    const m = parseMachineYaml('nodes:\n  - {memory: 48G, cpus: 16}\n  - {memory: 16G}\n');
    expect(m.memBytes).toBe(64 * GiB);
    expect(m.nodes).toEqual([
      { id: 0, memBytes: 48 * GiB, cpus: 16 },
      { id: 1, memBytes: 16 * GiB, cpus: 4 },
    ]);
  });

  it('sizes accept suffixes and plain byte counts', () => {
    expect(parseMachineYaml('memory: 1T').memBytes).toBe(TiB);
    expect(parseMachineYaml('memory: 536870912').memBytes).toBe(512 * MiB);
    expect(parseMachineYaml('memory: 0x40000000').memBytes).toBe(GiB);
  });

  it('errors name the field', () => {
    expect(() => parseMachineYaml('nodes:\n  - {memory: 1G}\n  - {memory: abc}\n')).toThrow(
      'machine: nodes[1].memory: not a size: "abc"',
    );
    expect(() => parseMachineYaml('memory: 1000')).toThrow('machine: memory: must be a multiple of 4K: 1000');
    expect(() => parseMachineYaml('memory: 0')).toThrow('machine: memory: must be > 0: 0');
    expect(() => parseMachineYaml('memory: 64G\nnodes:\n  - {memory: 48G}\n')).toThrow(
      'machine: memory: 64G does not equal the sum of node memory 48G',
    );
    expect(() => parseMachineYaml('memory: 64G\nnodes: 2\ndistances: [[10, 21]]')).toThrow(
      'machine: distances: must be a 2x2 matrix',
    );
    expect(() => parseMachineYaml('memory: 64G\nnodes: 2\ndistances: [[11, 21], [21, 10]]')).toThrow(
      'machine: distances[0][0]: local distance must be 10: 11',
    );
    expect(() => parseMachineYaml('memory: 64G\nnodes: 2\ndistances: [[10, 10], [10, 10]]')).toThrow(
      'machine: distances[0][1]: remote distance must be > 10: 10',
    );
    expect(() => parseMachineYaml('memory: 64G\nnodes: 2\ndistances: [[10, 21], [22, 10]]')).toThrow(
      'machine: distances[0][1]: not symmetric: 21 != 22',
    );
    expect(() => parseMachineYaml('memory: 64G\nnodes: 65')).toThrow('machine: nodes: at most 64 nodes: 65');
    expect(() => parseMachineYaml('memory: 128M')).toThrow('machine: memory: at least 256M: 128M');
    expect(() => parseMachineYaml('memory: 64G\ncolor: red')).toThrow('machine: color: unknown field');
    expect(() => parseMachineYaml('nodes: 2')).toThrow('machine: memory: required');
    expect(() => parseMachineYaml('- 1')).toThrow('machine: expected a mapping');
  });

  it('describeMachine is one line', () => {
    const line = describeMachine(parseMachineYaml('memory: 64G\nnodes: 2'));
    expect(line).toBe('64 GiB, 2 nodes (0: 32 GiB/4 CPUs, 1: 32 GiB/4 CPUs), 8 CPUs');
  });
});
