/**
 * Machine checks, QEMU's side (target/i386/kvm/kvm.c kvm_arch_init_vcpu's MCE
 * setup, kvm_get_mce_cap_supported, kvm_arch_on_sigbus_vcpu, kvm_mce_inject;
 * target/i386/cpu.c mce_init: MCE_CAP_DEF | MCE_BANKS_DEF).
 *
 * When the kernel reports poisoned guest memory with SIGBUS (BUS_MCEERR_AR
 * from inside KVM_RUN, BUS_MCEERR_AO from memory_failure's early kill), QEMU
 * turns it into a machine check for the guest at the guest-physical address,
 * and the guest's own handler decides what the error costs it. QEMU injects
 * through KVM_SET_MSRS + KVM_SET_VCPU_EVENTS; vmm uses KVM_X86_SET_MCE, the
 * one-call form (older QEMU used it), which reaches the same vCPU state.
 */
import { Errno } from '../../lib/errno.ts';
import { KVM_CHECK_EXTENSION } from '../../uapi/kvm.ts';
import {
  KVM_CAP_MCE,
  KVM_SET_MSRS,
  KVM_X86_GET_MCE_CAP_SUPPORTED,
  KVM_X86_SETUP_MCE,
  KVM_X86_SET_MCE,
  MCG_CTL_P,
  MCG_SER_P,
  MCG_STATUS_EIPV,
  MCG_STATUS_MCIP,
  MCG_STATUS_RIPV,
  MCI_STATUS_ADDRV,
  MCI_STATUS_AR,
  MCI_STATUS_EN,
  MCI_STATUS_MISCV,
  MCI_STATUS_S,
  MCI_STATUS_UC,
  MCI_STATUS_VAL,
  MSR_IA32_MC0_CTL,
  MSR_IA32_MCG_CTL,
  MSR_IA32_MCG_STATUS,
  type kvm_cpuid2,
  type kvm_u64_out,
  type kvm_x86_mce,
} from '../../uapi/kvm_x86.ts';
import { BUS_MCEERR_AR } from '../../uapi/signal.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { VmmError } from './teardown.ts';

/** MCE_BANKS_DEF: banks QEMU gives a vCPU. */
const MCE_BANKS_DEF = 10;
/** The bank kvm_mce_inject reports memory errors in. */
const MCE_INJECT_BANK = 9;
/** CPUID.1:EDX MCE (bit 7) and MCA (bit 14). */
const CPUID_MCE = 1 << 7;
const CPUID_MCA = 1 << 14;
/** MCi_MISC: address mode physical (MCM_ADDR_PHYS << 6), lowest valid address bit 12. */
const MCI_MISC_PHYS_4K = (2n << 6n) | 0xcn;

/** Whether the vCPU model has machine checks: family ≥ 6 with CPUID MCE and MCA (mce_init). */
function cpuHasMca(cpuid: kvm_cpuid2): boolean {
  const leaf1 = cpuid.entries.find((e) => e.function === 1 && e.index === 0);
  if (!leaf1) return false;
  const family = (leaf1.eax >>> 8) & 0xf;
  return family >= 6 && (leaf1.edx & (CPUID_MCE | CPUID_MCA)) === (CPUID_MCE | CPUID_MCA);
}

/** kvm_arch_init_vcpu's MCE part: give the vCPU QEMU's MCG_CAP, masked by what KVM supports; the MCG_CAP set (0: none). */
export function kvmSetupMce(sys: Syscalls, kvmFd: number, vcpuFd: number, cpuid: kvm_cpuid2): number {
  if (!cpuHasMca(cpuid)) return 0;
  const banks = sys.ioctl(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_MCE);
  if (banks <= 0) throw new VmmError('kvm_get_mce_cap_supported: Function not implemented');
  const supported: kvm_u64_out = { value: 0 };
  try {
    sys.ioctl(kvmFd, KVM_X86_GET_MCE_CAP_SUPPORTED, supported);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    throw new VmmError(`kvm_get_mce_cap_supported: ${e.strerror}`);
  }
  if (banks < MCE_BANKS_DEF) throw new VmmError(`kvm: Unsupported MCE bank count (QEMU = ${MCE_BANKS_DEF}, KVM = ${banks})`);
  const mcgCap = ((MCG_CTL_P | MCG_SER_P) & supported.value) | MCE_BANKS_DEF;
  try {
    sys.ioctl(vcpuFd, KVM_X86_SETUP_MCE, mcgCap);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    throw new VmmError(`KVM_X86_SETUP_MCE: ${e.strerror}`);
  }
  return mcgCap;
}

/**
 * A system reset's machine-check state (x86_cpu_reset, then kvm_put_msrs at
 * KVM_PUT_RESET_STATE): MCG_STATUS 0 — MCIP clear — MCG_CTL and each bank's
 * CTL all 1s, each bank's STATUS, ADDR and MISC 0, written with KVM_SET_MSRS.
 */
export function kvmResetMce(sys: Syscalls, vcpuFd: number, mcgCap: number): void {
  if (!mcgCap) return;
  const all = (1n << 64n) - 1n;
  const entries = [{ index: MSR_IA32_MCG_STATUS, data: 0n }];
  if (mcgCap & MCG_CTL_P) entries.push({ index: MSR_IA32_MCG_CTL, data: all });
  for (let i = 0; i < 4 * (mcgCap & 0xff); i++) entries.push({ index: MSR_IA32_MC0_CTL + i, data: i % 4 === 0 ? all : 0n });
  const n = sys.ioctl(vcpuFd, KVM_SET_MSRS, { entries });
  if (n !== entries.length) throw new VmmError(`kvm_put_msrs: KVM_SET_MSRS wrote ${n} of ${entries.length} MSRs`);
}

/** A machine check the monitor's `mce` command asked for, to inject before the vCPU next runs. */
export interface MceRequest {
  cpu: number;
  mce: kvm_x86_mce;
}

/** An HMP integer argument ('l': decimal, or 0x hex), as a u64. */
function hmpU64(text: string): bigint | null {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) return null;
  const v = BigInt(text);
  return v < 1n << 64n ? v : null;
}

/**
 * HMP `mce cpu bank status mcgstatus addr misc` (monitor/hmp-cmds-target.c
 * hmp_mce → target/i386/helper.c cpu_x86_inject_mce): the request, or the
 * line the monitor prints instead. A cpu that does not exist is ignored (no
 * output, as qemu_get_cpu returning NULL). QEMU injects on the vCPU thread
 * before it next enters the guest (run_on_cpu); so does vmm, at the next `run`.
 */
export function hmpMce(args: readonly string[], mcgCap: number, nrVcpus: number): MceRequest | string | null {
  if (args.length !== 6) return 'mce: expected cpu bank status mcgstatus addr misc';
  const v = args.map(hmpU64);
  if (v.some((x) => x === null)) return `mce: invalid number '${args[v.findIndex((x) => x === null)]}'`;
  const [cpu, bank, status, mcgStatus, addr, misc] = v as bigint[];
  if (cpu! >= BigInt(nrVcpus)) return null;
  if (!mcgCap) return 'MCE injection not supported';
  if (bank! >= BigInt(mcgCap & 0xff)) return 'Invalid MCE bank number';
  if (!(status! & MCI_STATUS_VAL)) return 'Invalid MCE status code';
  if (addr! > BigInt(Number.MAX_SAFE_INTEGER)) return `mce: address ${args[4]} out of range`;
  return { cpu: Number(cpu), mce: { bank: Number(bank), status: status!, mcg_status: mcgStatus!, addr: Number(addr), misc: misc! } };
}

/**
 * kvm_mce_inject()'s machine check: an uncorrected, signalled error at `gpa`
 * in bank 9 — action required (AR, error code 0x134, RIPV|EIPV) when the guest
 * consumed it, action optional (0xc0, RIPV) when found in the background.
 */
export function kvmMceForSigbus(gpa: number, code: number): kvm_x86_mce {
  let status = MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV | MCI_STATUS_ADDRV | MCI_STATUS_S;
  let mcgStatus = MCG_STATUS_MCIP | MCG_STATUS_RIPV;
  if (code === BUS_MCEERR_AR) {
    status |= MCI_STATUS_AR | 0x134n;
    mcgStatus |= MCG_STATUS_EIPV;
  } else {
    status |= 0xc0n;
  }
  return { status, addr: gpa, misc: MCI_MISC_PHYS_4K, mcg_status: mcgStatus, bank: MCE_INJECT_BANK };
}

/** KVM_X86_SET_MCE of kvmMceForSigbus's machine check, at once (the vCPU must run next without a register write). */
export function kvmMceInject(sys: Syscalls, vcpuFd: number, gpa: number, code: number): void {
  sys.ioctl(vcpuFd, KVM_X86_SET_MCE, kvmMceForSigbus(gpa, code));
}
