=== size-exact-limit
flags: -I 512k
# 524288 - 48 - 8 - (1 + 1) - 2 = 524228 bytes fit with a 1-byte key and flags 0
> set k 0 0 524228\r\n{x*524228}\r\nget k\r\n
=== size-one-over
flags: -I 512k
> set k 0 0 524229\r\n{x*524229}\r\nget k\r\n
=== size-with-flags
flags: -I 512k
> set k 1 0 524224\r\n{x*524224}\r\nset k 1 0 524225\r\n{x*524225}\r\n
=== size-too-large-swallows-data
flags: -I 512k
> set k 0 0 600000\r\n{x*600000}\r\nset j 0 0 1\r\n1\r\nget j\r\n
=== size-too-large-removes-old-value
flags: -I 512k
> set k 0 0 1\r\na\r\nset k 0 0 600000\r\n{x*600000}\r\nget k\r\n
=== size-too-large-add-keeps-old
flags: -I 512k
> set k 0 0 1\r\na\r\nadd k 0 0 600000\r\n{x*600000}\r\nreplace k 0 0 600000\r\n{x*600000}\r\nget k\r\n
=== size-too-large-noreply
flags: -I 512k
> set k 0 0 600000 noreply\r\n{x*600000}\r\nget k\r\n
=== size-append-over-limit
flags: -I 512k
> set k 0 0 300000\r\n{x*300000}\r\nappend k 0 0 300000\r\n{y*300000}\r\nget k\r\n
=== size-default-limit
> set k 0 0 1048516\r\n{x*1048516}\r\nset j 0 0 1048517\r\n{x*1048517}\r\n
=== size-default-limit-long-key
> set {k*250} 0 0 1048267\r\n{x*1048267}\r\nset {k*250} 0 0 1048268\r\n{x*1048268}\r\n
=== size-too-large-split
flags: -I 512k
> set k 0 0 600000\r\n{x*200000}
> {x*400000}\r\nget k\r\n
=== size-large-limit-keeps-large-items
# memcached allows -I up to half of -m and keeps such items: a 68 MB value at -m 256 -I 70m
# is still there after a moment (moka would drop an entry heavier than one cache's share,
# and -m 256 alone would give four caches of 64 MiB)
flags: -m 256 -I 70m
> set big 0 0 68000000\r\n{x*68000000}\r\n
sleep 300
> get big\r\n
=== size-large-header-first
# The command line alone, then the data block: the value still arrives whole.
> set k 7 0 300000\r\n
> {x*300000}\r\n
> get k\r\nappend k 0 0 5\r\nyyyyy\r\ngets k\r\n
