#!/usr/bin/env bash
# pvring-stored's memory with many guests, each at its quotas (nodes, bytes, open
# transactions with a write in each): it grows in proportion to the guests, not to their
# square (every transaction used to copy the whole tree), and is given back when they leave.
# Memory, not time: the figures are the store's resident set, read from /proc.
set -u
bin=${BUILDDIR:-$(pwd)}
dir=$(mktemp -d /tmp/pvring-storemem-XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0

# shellcheck source=checks.sh
. "$(dirname "$0")/checks.sh"

python3 "$(dirname "$0")/store_memory.py" "$bin/daemon/pvring-stored" 4 16 >"$dir/mem" ||
	{ echo "Bail out! the store memory script failed"; exit 1; }
read -r _ idle4 full4 after4 values txns < <(sed -n 1p "$dir/mem")
read -r _ idle16 full16 after16 _ _ < <(sed -n 2p "$dir/mem")
echo "# 4 guests: $idle4 KiB idle, $full4 KiB full, $after4 KiB after; 16: $idle16, $full16, $after16"
echo "# each guest: $values values of 4000 B before ENOSPC, $txns transactions before ENOSPC"
check "a guest's byte quota stops it at 512 KiB of values" test "$values" -eq 130
check "a guest opens 10 transactions, then gets ENOSPC" test "$txns" -eq 10
grow4=$((full4 - idle4))
grow16=$((full16 - idle16))
# Four times the guests: four times the memory, with room for the allocator (twice would
# still be linear; whole-tree copies made it 13 times).
check "16 guests cost at most 6 times what 4 do ($grow16 KiB vs $grow4 KiB)" \
	test "$grow16" -le $((6 * grow4))
check "  ... and about what their data is (at most 1 MiB a guest)" test "$grow16" -le $((16 * 1024))
check "what they held is given back when they leave (within 4 MiB of idle)" \
	test "$after16" -le $((idle16 + 4096))

if [ "$failures" -ne 0 ]; then
	checks_failed
	exit 1
fi
echo "PASS: pvring-stored's memory grows with its guests and is given back"
