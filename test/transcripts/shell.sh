#! --mem 1G
# The shell's syntax and the coreutils' messages.
X=hello; echo "$X world" '$X' $X
echo a && echo b || echo c
false || echo "false gave $?"
! true; echo "negated $?"
echo one two three | wc -w
echo "$(echo inner) and $(echo  spaced   out)"
mkdir -p /tmp/a/b/c && ls /tmp/a /tmp/a/b
echo data > /tmp/a/file; echo more >> /tmp/a/file; cat /tmp/a/file
wc -l < /tmp/a/file
mv /tmp/a/file /tmp/a/moved; ls /tmp/a
rmdir /tmp/a/b
rm /tmp/a/nothing
mkdir /tmp/a
cat /nonexistent
test -d /tmp/a && echo "is a dir"
[ 3 -lt 4 ] && echo "3 < 4"
[ -z "" ] && echo empty
truncate -s 10K /tmp/t && stat -c '%s %b %B %n' /tmp/t
truncate -s 1K /sys/kernel/mm/transparent_hugepage/enabled
fallocate -l 64K /tmp/t && stat -c '%s %b' /tmp/t
fallocate -p -o 0 -l 64K /tmp/t && stat -c '%s %b' /tmp/t
seq 3 | tail -n 1
seq 10 | head -n 2
echo foo | grep -q bar; echo "grep $?"
grep -c Mem /proc/meminfo
nosuchcommand
mount -t nosuchfs none /mnt
mount -t tmpfs -o size=2M tmpfs /mnt && df /mnt
cd /mnt && pwd && cd / 
umount /mnt
umount /mnt
set -e
echo before
false
echo "never printed"
