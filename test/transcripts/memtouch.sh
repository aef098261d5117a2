#! --mem 8G
# memtouch over anonymous and tmpfs memory: faults by level and what they cost.
memtouch --anon --size 8M
memtouch --anon --size 8M --no-thp
memtouch --anon --size 8M --read
echo madvise > /sys/kernel/mm/transparent_hugepage/enabled
cat /sys/kernel/mm/transparent_hugepage/enabled
memtouch --anon --size 4M
memtouch --anon --size 4M --thp
echo never > /sys/kernel/mm/transparent_hugepage/enabled
memtouch --anon --size 4M --thp --touch 1M
echo sometimes > /sys/kernel/mm/transparent_hugepage/enabled
echo "status $?"
memtouch --file /tmp/f --create --size 1M --fill 0xab
stat -c '%s %b %n' /tmp/f
memtouch --file /tmp/f --size 1M --offset 0 --read --verify 0xab
memtouch --file /tmp/f --size 1M --private --fill 1
memtouch --file /tmp/f --size 4K --read --verify 0xab
memtouch --file /tmp/f --size 8K --offset 1M --read
echo "status $?"
memtouch --file /tmp/f --size 4K --verify 0x00
echo "status $?"
memtouch --file /tmp/nope --size 4K
memtouch --anon
echo "status $?"
memtouch --file /tmp/f --size 4K --offset 1
memtouch --anon --size 64M --hold
grep -E '^(AnonPages|AnonHugePages):' /proc/meminfo
grep -c rw-p /proc/$!/maps
grep -E '^(Rss|AnonHugePages|THPeligible)' /proc/$!/smaps
kill $!
kill $!
grep -E '^(AnonPages|AnonHugePages):' /proc/meminfo
# --pagemap: the mapping's pages by their /proc/self/pagemap bits. Written anonymous
# pages are present and exclusive; read ones map the shared zero page (present only);
# tmpfs pages are file pages; a private write over them makes anonymous copies.
memtouch --anon --size 1M --touch 256K --pagemap
memtouch --anon --size 1M --read --pagemap
memtouch --file /tmp/f --size 1M --read --pagemap
memtouch --file /tmp/f --size 1M --private --touch 512K --pagemap
