/**
 * KVM_SET_USER_MEMORY_REGION: every rule of __kvm_set_memory_region, one case
 * per geometry. Pictures show guest-physical ranges (gpa) over their host
 * virtual backing (hva); one cell is 4 KiB unless marked.
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, KVM_SET_USER_MEMORY_REGION } from '../../src/uapi/kvm.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { bootKvm, createVm, errno, setRegion } from './helpers.ts';

const P = PAGE_SIZE;

function vmWithMemory(pages = 64) {
  const { host, task } = bootKvm();
  const vm = createVm(task);
  const hva = task.mmap(0, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const slots = () => [...vm.kvm.memslots[0]!.all()].map((s) => `${s.id}:${s.base_gfn}+${s.npages}@${(s.userspace_addr - hva) / P}/${s.flags}`);
  return { host, task, vm, hva, slots };
}

describe('KVM_SET_USER_MEMORY_REGION: EINVAL', () => {
  it('unaligned size, gpa or hva; unknown flags', () => {
    const { task, vm, hva } = vmWithMemory();
    expect(errno(() => setRegion(task, vm.vmFd, 0, 0, P + 1, hva))).toBe('EINVAL');
    expect(errno(() => setRegion(task, vm.vmFd, 0, 512, P, hva))).toBe('EINVAL');
    expect(errno(() => setRegion(task, vm.vmFd, 0, 0, P, hva + 8))).toBe('EINVAL');
    expect(errno(() => setRegion(task, vm.vmFd, 0, 0, P, hva, 4))).toBe('EINVAL');
  });

  it('slot ids: 32764 usable per address space, two address spaces', () => {
    const { task, vm, hva } = vmWithMemory();
    expect(setRegion(task, vm.vmFd, 32763, 0, P, hva)).toBe(0);
    expect(errno(() => setRegion(task, vm.vmFd, 32764, P, P, hva))).toBe('EINVAL');
    // (as_id 1 << 16) | 5: the SMM address space is fine; as_id 2 is not.
    expect(setRegion(task, vm.vmFd, (1 << 16) | 5, 0, P, hva)).toBe(0);
    expect(errno(() => setRegion(task, vm.vmFd, (2 << 16) | 5, 0, P, hva))).toBe('EINVAL');
  });

  it('access_ok: the hva range must lie in the user half; an unmapped one is fine', () => {
    //   hva: [2^47 - 4K ....... 2^47 + 4K)  → EINVAL
    //   hva: [1 TiB, +4K) nothing mapped   → accepted (faults report EFAULT later)
    const { task, vm } = vmWithMemory();
    expect(errno(() => setRegion(task, vm.vmFd, 0, 0, 2 * P, 2 ** 47 - P))).toBe('EINVAL');
    expect(setRegion(task, vm.vmFd, 0, 0, P, 2 ** 40)).toBe(0);
  });

  it('gpa + size overflowing, more than 2^31 - 1 pages, or beyond MAXPHYADDR', () => {
    const { task, vm, hva } = vmWithMemory();
    expect(errno(() => setRegion(task, vm.vmFd, 0, 2 ** 64 - P, 2 * P, hva))).toBe('EINVAL');
    expect(errno(() => setRegion(task, vm.vmFd, 0, 0, 2 ** 31 * P, hva))).toBe('EINVAL');
    expect(errno(() => setRegion(task, vm.vmFd, 0, 2 ** 46, P, hva))).toBe('EINVAL');
  });

  it('deleting a slot that does not exist', () => {
    const { task, vm, hva } = vmWithMemory();
    expect(errno(() => setRegion(task, vm.vmFd, 3, 0, 0, hva))).toBe('EINVAL');
  });

  it('changing an existing slot: hva, size or READONLY', () => {
    //   slot 0  gpa [0, 4)  hva [0, 4)
    //   then    hva [1, 5)  → EINVAL;  gpa [0, 5) → EINVAL;  +READONLY → EINVAL
    const { task, vm, hva, slots } = vmWithMemory();
    setRegion(task, vm.vmFd, 0, 0, 4 * P, hva);
    expect(errno(() => setRegion(task, vm.vmFd, 0, 0, 4 * P, hva + P))).toBe('EINVAL');
    expect(errno(() => setRegion(task, vm.vmFd, 0, 0, 5 * P, hva))).toBe('EINVAL');
    expect(errno(() => setRegion(task, vm.vmFd, 0, 0, 4 * P, hva, KVM_MEM_READONLY))).toBe('EINVAL');
    expect(slots()).toEqual(['0:0+4@0/0']);
  });

  it('a struct that is not one is EFAULT', () => {
    const { task, vm } = vmWithMemory();
    expect(errno(() => task.ioctl(vm.vmFd, KVM_SET_USER_MEMORY_REGION, null))).toBe('EFAULT');
    expect(errno(() => task.ioctl(vm.vmFd, KVM_SET_USER_MEMORY_REGION, { slot: 0 }))).toBe('EFAULT');
  });
});

describe('KVM_SET_USER_MEMORY_REGION: EEXIST', () => {
  it('a new slot overlapping another', () => {
    //   gpa: 0   4   8  12
    //        |-0-|
    //          |-1-|        → EEXIST
    //            |-2-|      → fine (touching)
    const { task, vm, hva, slots } = vmWithMemory();
    setRegion(task, vm.vmFd, 0, 0, 4 * P, hva);
    expect(errno(() => setRegion(task, vm.vmFd, 1, 2 * P, 4 * P, hva + 8 * P))).toBe('EEXIST');
    setRegion(task, vm.vmFd, 2, 4 * P, 4 * P, hva + 8 * P);
    expect(slots()).toEqual(['0:0+4@0/0', '2:4+4@8/0']);
  });

  it('a moved slot overlapping another; overlapping itself is fine', () => {
    //   gpa: 0   4   8  12
    //        |-0-|   |-1-|
    //        move 0 to [6, 10) → EEXIST;  to [2, 6) → fine
    const { task, vm, hva, slots } = vmWithMemory();
    setRegion(task, vm.vmFd, 0, 0, 4 * P, hva);
    setRegion(task, vm.vmFd, 1, 8 * P, 4 * P, hva + 16 * P);
    expect(errno(() => setRegion(task, vm.vmFd, 0, 6 * P, 4 * P, hva))).toBe('EEXIST');
    setRegion(task, vm.vmFd, 0, 2 * P, 4 * P, hva);
    expect(slots()).toEqual(['0:2+4@0/0', '1:8+4@16/0']);
  });

  it('the same gpa in the other address space does not overlap', () => {
    const { task, vm, hva } = vmWithMemory();
    setRegion(task, vm.vmFd, 0, 0, 4 * P, hva);
    expect(setRegion(task, vm.vmFd, (1 << 16) | 0, 0, 4 * P, hva)).toBe(0);
  });
});

describe('KVM_SET_USER_MEMORY_REGION: changes', () => {
  it('create, same again (no-op), flags change, move, delete', () => {
    const { task, vm, hva, slots } = vmWithMemory();
    setRegion(task, vm.vmFd, 7, MiB, 4 * P, hva);
    setRegion(task, vm.vmFd, 7, MiB, 4 * P, hva);
    expect(slots()).toEqual([`7:256+4@0/0`]);
    setRegion(task, vm.vmFd, 7, MiB, 4 * P, hva, KVM_MEM_LOG_DIRTY_PAGES);
    expect(slots()).toEqual([`7:256+4@0/1`]);
    expect(vm.kvm.memslots[0]!.byId.get(7)!.dirty_bitmap).not.toBeNull();
    setRegion(task, vm.vmFd, 7, 2 * MiB, 4 * P, hva, KVM_MEM_LOG_DIRTY_PAGES);
    expect(slots()).toEqual([`7:512+4@0/1`]);
    setRegion(task, vm.vmFd, 7, 0, 0, 0);
    expect(slots()).toEqual([]);
  });

  it('a READONLY slot may be created, and deleted', () => {
    const { task, vm, hva, slots } = vmWithMemory();
    setRegion(task, vm.vmFd, 1, 0, 4 * P, hva, KVM_MEM_READONLY);
    expect(slots()).toEqual(['1:0+4@0/2']);
    setRegion(task, vm.vmFd, 1, 0, 0, hva);
    expect(slots()).toEqual([]);
  });

  it('slot metadata (lpage_info, dirty bitmap) is kernel memory and comes back', () => {
    const { host, task, vm, hva } = vmWithMemory();
    const before = host.buddy.nr_free_pages();
    setRegion(task, vm.vmFd, 1, 0, 64 * P, hva, KVM_MEM_LOG_DIRTY_PAGES);
    setRegion(task, vm.vmFd, 1, 0, 0, 0);
    expect(host.buddy.nr_free_pages()).toBe(before);
  });
});
