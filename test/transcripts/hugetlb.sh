#! --mem 64G --nodes 2 --cmdline "hugepagesz=1G hugepages=0:2,1:2 hugepagesz=2M hugepages=512"
# HugeTLB pools: 1G pages from memblock on each node, 2M pages from the page allocator.
dmesg | grep HugeTLB
grep -E '^(MemTotal|MemFree|HugePages|Hugepagesize|Hugetlb)' /proc/meminfo
cd /sys/kernel/mm/hugepages
ls
ls hugepages-2048kB
ls hugepages-1048576kB
cd hugepages-1048576kB
grep . demote_size free_hugepages nr_hugepages nr_hugepages_mempolicy nr_overcommit_hugepages resv_hugepages surplus_hugepages
cd ../hugepages-2048kB
grep . free_hugepages nr_hugepages nr_hugepages_mempolicy nr_overcommit_hugepages resv_hugepages surplus_hugepages
cd /sys/devices/system/node
ls node0/hugepages node1/hugepages/hugepages-2048kB
grep . node0/hugepages/hugepages-1048576kB/nr_hugepages node1/hugepages/hugepages-1048576kB/free_hugepages node0/hugepages/hugepages-2048kB/nr_hugepages node1/hugepages/hugepages-2048kB/surplus_hugepages
cd /sys/kernel/mm/hugepages
grep HugePages /sys/devices/system/node/node1/meminfo
grep . /proc/sys/vm/nr_hugepages /proc/sys/vm/nr_overcommit_hugepages /proc/sys/vm/hugetlb_optimize_vmemmap

# resize: grow, shrink, one node, overcommit
echo 1024 > /proc/sys/vm/nr_hugepages
grep . /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages
echo 10 > /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
grep -E '^(MemFree|HugePages_Total)' /proc/meminfo
echo 3 > /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
echo 4 > /proc/sys/vm/nr_overcommit_hugepages
cat hugepages-2048kB/nr_overcommit_hugepages

# bad writes
echo -1 > /proc/sys/vm/nr_hugepages
echo abc > hugepages-2048kB/nr_hugepages
echo 1 > hugepages-1048576kB/nr_overcommit_hugepages
echo 1 > hugepages-2048kB/free_hugepages

# HVO: a 2M page gives back 7 vmemmap pages, a 1G page 4095
echo 0 > /proc/sys/vm/nr_hugepages
echo 0 > hugepages-1048576kB/nr_hugepages
grep -E '^(MemTotal|MemFree)' /proc/meminfo
echo 1 > /proc/sys/vm/hugetlb_optimize_vmemmap
echo 100 > /proc/sys/vm/nr_hugepages
echo 1 > hugepages-1048576kB/nr_hugepages
grep -E '^(MemTotal|MemFree|Hugetlb)' /proc/meminfo
