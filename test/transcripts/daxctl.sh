#! --mem 64G --nodes 2 --cmdline "efi_fake_mem=16G@0x400000000:0x40000"
# daxctl on a dynamic (hmem) dax region, in the style of ndctl's
# test/daxctl-create.sh: 16 GiB of soft-reserved memory at 16 GiB becomes
# region 0 with dax0.0 spanning it. Free the region, carve devices, fragment it,
# recreate a device from JSON, and check every error path's message and status.
# (Output order is libdaxctl's: its lists insert at the head, so devices come
# out in the reverse of the kernel's readdir order.)

echo "## boot: dax0.0 owns the whole region"
daxctl list -R -D
echo "## reset: disable dax0.0 and give its memory back"
daxctl disable-device dax0.0
daxctl reconfigure-device -s 0 dax0.0
daxctl list -r 0 -R -i -u

echo "## create: 4G, 2G with 1G align, then the rest"
daxctl create-device -r 0 -s 4G
daxctl create-device -r 0 -s 2G -a 1G
daxctl create-device -u
daxctl list -D -M
echo "## region full"
daxctl create-device -r 0
echo "status=$?"

echo "## destroy needs --force for an enabled device"
daxctl destroy-device dax0.2
echo "status=$?"
daxctl destroy-device -f dax0.2 -r 0
echo "## a new device spans the hole and the space after dax0.3's shrink"
daxctl disable-device 0.3
daxctl reconfigure-device -s 8G dax0.3
daxctl enable-device dax0.3
daxctl create-device -s 4G -u
daxctl list -d dax0.2 -M -u

echo "## errors"
daxctl create-device -s 3M
echo "status=$?"
daxctl reconfigure-device -s 2G dax0.1
echo "status=$?"
daxctl reconfigure-device dax0.1
echo "status=$?"
daxctl disable-device
echo "status=$?"
daxctl list --bogus
echo "status=$?"
daxctl list -d
echo "status=$?"
daxctl destroy-device -force dax0.1
echo "status=$?"
daxctl online-memory dax0.1
echo "status=$?"
daxctl frobnicate
echo "status=$?"

echo "## recreate dax0.2 from its JSON (--input)"
daxctl destroy-device -f dax0.2
echo '{"chardev":"dax0.2","size":4294967296,"align":2097152,"mappings":[{"page_offset":524288,"start":32212254720,"end":34359738367,"size":2147483648},{"page_offset":0,"start":21474836480,"end":23622320127,"size":2147483648}]}' > /tmp/dax.json
daxctl create-device --input /tmp/dax.json
daxctl list -d 0.2 -M

echo "## tear down"
daxctl destroy-device -f all -r 0
echo "status=$?"
daxctl list -R -D -i
echo "## a size that is not a multiple of 2M"
daxctl create-device -s 3M
echo "status=$?"
daxctl list -i
