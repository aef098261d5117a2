#! --mem 64G --nodes 2 --cmdline "dmem=20G"
# One 16 GiB guest three ways: anonymous memory at 4K (THP off), anonymous
# memory with THP (QEMU madvises guest RAM MADV_HUGEPAGE), and a 1G-dpage
# dmemfs file. Each guest writes its first 64 MiB, then reads all 16 GiB, so
# every guest page is mapped in the EPT (unwritten anonymous memory reads
# through the zero page, or the huge zero page with THP, as on Linux). A write
# pass over all 16 GiB gives the same leaves, but every page the guest writes
# becomes a real 4 KiB buffer in the model's DRAM: 16 GiB of the test machine's
# memory and about two minutes. This script takes about 4 s (`dmemfs sh`).

# 4K: 16 GiB / 4 KiB = 4194304 EPT leaves; 8192 PT + 16 PD + 1 PDPT + 1 PML4
# pages = 32840 kB of SecPageTables (and as much of PageTables on the host side).
echo never > /sys/kernel/mm/transparent_hugepage/enabled
vmm start vm4k --memory 16G
vmm run vm4k --pattern seq --write --bytes 64M
vmm run vm4k --pattern seq
vmm info vm4k
grep -E '^(AnonPages|AnonHugePages|PageTables|SecPageTables):' /proc/meminfo
vmm stop vm4k
grep SecPageTables /proc/meminfo

# THP: 8192 2M leaves in 16 PD pages + PDPT + PML4 = 72 kB.
echo always > /sys/kernel/mm/transparent_hugepage/enabled
vmm start vmthp --memory 16G
vmm run vmthp --pattern seq --write --bytes 64M
vmm run vmthp --pattern seq
vmm info vmthp | grep -E '^(pages_|pf_|secpagetables)'
grep -E '^(AnonPages|AnonHugePages|PageTables|SecPageTables):' /proc/meminfo
vmm stop vmthp

# dmemfs with 1G dpages: 16 PDPT entries, PDPT + PML4 = 8 kB. (dmem=20G
# reserves 20G on each node: 38 1G dpages once aligned, 16 of them for the guest.)
mount -t dmemfs -o pagesize=1G none /mnt
vmm start vmdmem --memory 16G --memory-backend file --mem-path /mnt/vmdmem --share
vmm list
vmm run vmdmem --pattern seq --write --bytes 64M
vmm run vmdmem --pattern seq
vmm info vmdmem | grep -E '^(pages_|pf_|secpagetables|align|page-size)'
grep -E '^(PageTables|SecPageTables):' /proc/meminfo
cat /sys/kernel/debug/dmem/free_dpages

# A hardware error in one of the guest's 1G dpages: the VM process hears of it
# at once (BUS_MCEERR_AO, injected into the guest as an action-optional machine
# check). The dpage stays mapped, in the host and in the EPT (1G leaf), as the
# DMEMFS series left it: the guest's next touch of the bad 4K is a machine check,
# which reaches the VMM as SIGBUS BUS_MCEERR_AR and the guest as a #MC that ends
# the program (status 2); the VM and the rest of the GiB live on.
echo 0x400000 > /sys/kernel/debug/hwpoison/corrupt-pfn
vmm run vmdmem --pattern seq
vmm info vmdmem | grep -E '^(status|pages_1g)'
vmm stop vmdmem
vmm list

# Errors: QEMU's messages, exit 1, nothing left behind (dmemfs maps MAP_SHARED only).
vmm start bad --memory 16G --memory-backend file --mem-path /mnt/bad
vmm start bad --memory 16G --memory-backend file --mem-path /nonexistent/bad
vmm start bad --memory 16G --host-nodes 3 --policy bind
ls /mnt /run/vmm
vmm start bad --memory 16Q
echo "status $?"

# vmm mce: QEMU's HMP mce, injected before the guest next runs. An action-optional
# error and an action-required one between programs pass; two in a row (MCIP still
# set) are a triple fault, and the reset clears MCIP (KVM_SET_MSRS); the monitor's own
# checks come first.
vmm start m --memory 64M
vmm run m --pattern seq --write
vmm mce m 0 9 0xbd000000000000c0 0x5 0x100000 0x8c
vmm run m --pattern seq
vmm mce m 0 9 0xbd80000000000134 0x7 0x100000 0x8c
vmm run m --pattern seq
vmm mce m 0 9 0xbd000000000000c0 0x5 0x100000 0x8c
vmm mce m 0 9 0xbd000000000000c0 0x5 0x100000 0x8c
vmm run m --pattern seq
echo "status $?"
vmm mce m 0 9 0xbd000000000000c0 0x5 0x100000 0x8c
vmm run m --pattern seq
vmm mce m 0 10 0xbd000000000000c0 0x5 0x100000 0x8c
vmm mce m 0 9 0x1 0x5 0x100000 0x8c
vmm mce m 1 9 0xbd000000000000c0 0x5 0x100000 0x8c
echo "status $?"
vmm stop m
