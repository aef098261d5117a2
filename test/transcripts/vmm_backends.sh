#! --mem 64G --nodes 2 --cmdline "efi_fake_mem=16G@0x400000000:0x40000 hugepagesz=2M hugepages=8192 hugepagesz=1G hugepages=17"
# QEMU's hugetlb and device-dax memory backends under vmm: the same 16 GiB
# guest on hugetlbfs (2M and 1G), on a hugetlbfs memfd (memory-backend-memfd
# hugetlb=on, 2M and 1G), and on /dev/dax0.0 (a soft-reserved 16G hmem region)
# at align 2M, at align 1G, and pageless (map=0). Each guest writes its first
# 64 MiB and then reads all 16 GiB, so every guest page is in the EPT: 8192 2M
# leaves (16 PD pages + PDPT + PML4 = 72 kB of SecPageTables) or 16 1G leaves
# (PDPT + PML4 = 8 kB). Hugetlb memory is reserved at mmap (HugePages_Rsvd)
# and consumed as the guest touches it (HugePages_Free).
grep -E '^(HugePages_|Hugepagesize|Hugetlb)' /proc/meminfo
cd /sys/kernel/mm/hugepages/hugepages-1048576kB
grep . nr_hugepages free_hugepages resv_hugepages
cd /
mkdir /mnt/huge2m /mnt/huge1g
mount -t hugetlbfs none /mnt/huge2m
mount -t hugetlbfs -o pagesize=1G none /mnt/huge1g

echo "## hugetlbfs 2M: a directory mem-path gets an unlinked qemu_back_mem.ID.XXXXXX file"
vmm start h2 --memory 16G --memory-backend file --mem-path /mnt/huge2m --share
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo
vmm run h2 --pattern seq --write --bytes 64M
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo
vmm run h2 --pattern seq
vmm info h2 | grep -E '^(mem-path|share|align|page-size|pages_|secpagetables)'
grep -E '^(HugePages_Free|HugePages_Rsvd|SecPageTables)' /proc/meminfo
grep -o '/mnt/huge2m/qemu_back_mem.*' /proc/$(cat /run/vmm/h2/pid)/maps
ls /mnt/huge2m
echo "## the 2M pool is used up: a second guest fails at mmap (the reservation)"
vmm start m2 --memory 16G --memory-backend memfd --hugetlb
vmm stop h2
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo

echo "## memfd hugetlb=on (the default hstate, 2M): memfd_create flags 0x7"
vmm start m2 --memory 16G --memory-backend memfd --hugetlb
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo
vmm run m2 --pattern seq --write --bytes 64M
vmm run m2 --pattern seq
vmm info m2 | grep -E '^(backend|hugetlb|share|align|page-size|pages_|secpagetables)'
grep -E '^(HugePages_Free|HugePages_Rsvd|SecPageTables)' /proc/meminfo
grep -o ' /memfd:.*' /proc/$(cat /run/vmm/m2/pid)/maps
vmm stop m2

echo "## hugetlbfs 1G: a named file is created, sized, and stays after the VM"
vmm start h1 --memory 16G --memory-backend file --mem-path /mnt/huge1g/h1 --share
cd /sys/kernel/mm/hugepages/hugepages-1048576kB
grep . free_hugepages resv_hugepages
vmm run h1 --pattern seq --write --bytes 64M
vmm run h1 --pattern seq
vmm info h1 | grep -E '^(align|page-size|slot0.hva|pages_|secpagetables)'
grep . free_hugepages resv_hugepages
grep SecPageTables /proc/meminfo
vmm stop h1
ls -l /mnt/huge1g
grep . free_hugepages resv_hugepages
rm /mnt/huge1g/h1
grep . free_hugepages resv_hugepages

echo "## memfd hugetlb=on,hugetlbsize=1G: flags 0x78000007 (30 << MFD_HUGE_SHIFT)"
vmm start m1 --memory 16G --memory-backend memfd --hugetlb --hugetlbsize 1G
grep . free_hugepages resv_hugepages
vmm run m1 --pattern seq --write --bytes 64M
vmm run m1 --pattern seq
vmm info m1 | grep -E '^(hugetlb|align|page-size|pages_|secpagetables)'
grep . free_hugepages resv_hugepages
echo "## 17 1G pages: a second 16G guest cannot reserve"
vmm start h1 --memory 16G --memory-backend file --mem-path /mnt/huge1g --share
vmm stop m1
grep . free_hugepages resv_hugepages
cd /

echo "## hugetlb errors"
vmm start e --memory 16G --memory-backend memfd --hugetlb --hugetlbsize 3M
vmm start e --memory 16G --memory-backend memfd --hugetlb --hugetlbsize 4M
vmm start e --memory 16G --memory-backend memfd --hugetlb --hugetlbsize 0
vmm start e --memory 3M --memory-backend memfd --hugetlb
vmm start e --memory 512M --memory-backend file --mem-path /mnt/huge1g --share
vmm start e --memory 16G --memory-backend file --mem-path /mnt/huge2m --share --align 1M
vmm start e --memory 16G --memory-backend file --mem-path /mnt/huge2m --hugetlb
echo "status $?"
ls /mnt/huge2m /mnt/huge1g /run/vmm

echo "## /dev/dax0.0: QEMU sizes it from /sys/dev/char/MAJ:MIN (get_file_size)"
ls -l /dev/dax0.0
ls -l /sys/dev/char
readlink /sys/dev/char/254:0/subsystem
cat /sys/dev/char/254:0/size /sys/dev/char/254:0/align
echo "## check_vma: a private mapping, then an address aligned only to 4K (no --align)"
vmm start d2 --memory 16G --memory-backend file --mem-path /dev/dax0.0
vmm start d2 --memory 16G --memory-backend file --mem-path /dev/dax0.0 --share
vmm start d2 --memory 32G --memory-backend file --mem-path /dev/dax0.0 --share --align 2M
echo "## align 2M"
vmm start d2 --memory 16G --memory-backend file --mem-path /dev/dax0.0 --share --align 2M
vmm run d2 --pattern seq --write --bytes 64M
vmm run d2 --pattern seq
vmm info d2 | grep -E '^(mem-path|align|page-size|pages_|secpagetables)'
grep -E '^(HugePages_Free|SecPageTables)' /proc/meminfo
vmm stop d2

echo "## align 1G: --align 2M is no longer enough"
daxctl disable-device dax0.0
echo 1073741824 > /sys/bus/dax/devices/dax0.0/align
daxctl enable-device dax0.0
vmm start d1 --memory 16G --memory-backend file --mem-path /dev/dax0.0 --share --align 2M
vmm start d1 --memory 16G --memory-backend file --mem-path /dev/dax0.0 --share --align 1G
vmm run d1 --pattern seq --write --bytes 64M
vmm run d1 --pattern seq
vmm info d1 | grep -E '^(align|pages_|secpagetables)'
grep SecPageTables /proc/meminfo
vmm stop d1

echo "## map=0 (no struct pages): a VM_PFNMAP mapping that faults only when VM_DONTCOPY"
daxctl disable-device dax0.0
echo 0 > /sys/bus/dax/devices/dax0.0/map
daxctl enable-device dax0.0
memtouch --file /dev/dax0.0 --size 1G --touch 4K
vmm start d0 --memory 16G --memory-backend file --mem-path /dev/dax0.0 --share --align 1G
grep VmFlags /proc/$(cat /run/vmm/d0/pid)/smaps
vmm run d0 --pattern seq --write --bytes 64M
vmm run d0 --pattern seq
vmm info d0 | grep -E '^(align|pages_|secpagetables)'
grep SecPageTables /proc/meminfo
vmm stop d0
vmm list
