=== disable-cas
flags: -C
> set a 0 0 1\r\n1\r\ngets a\r\ncas a 0 0 1 0\r\n2\r\nget a\r\n
=== disable-flush
flags: -F
> set a 0 0 1\r\n1\r\nflush_all\r\nget a\r\nstats\r\n
=== disable-flush-noreply
flags: -F
> flush_all noreply\r\nversion\r\n
=== disable-evictions-fits
flags: -M -m 8
> set a 0 0 1\r\n1\r\nget a\r\n
=== memory-limit-stats
flags: -m 16
> stats\r\n
=== item-size-stats
flags: -I 4m
> stats settings\r\n
=== disable-cas-size-limit
# without CAS an item is 8 bytes smaller, so 8 more value bytes fit
flags: -C -I 512k
> set k 0 0 524236\r\n{x*524236}\r\nset k 0 0 524237\r\n{x*524237}\r\nstats\r\n
=== disable-cas-stats-bytes
flags: -C
> set a 0 0 1\r\n1\r\nstats\r\n
=== idle-timeout-closes
# memcached closes an idle connection from a checker thread: the connection must be idle
# for more than the limit in whole seconds, a sweep over the descriptors takes about a
# second, and between sweeps the thread sleeps up to the limit plus one. With a 1 s limit a
# connection can stay open about 5 s (3.5 s was sometimes too short for memcached).
flags: -o idle_timeout=1
> version\r\n
sleep 6000
> version\r\n
=== idle-timeout-counts-kicks
# `idle_kicks` (shown only with an idle_timeout) counts the connection closed while b slept
flags: -o idle_timeout=1
> stats\r\n
sleep 6000
@b > stats\r\n
=== reqs-per-event-yields
flags: -R 1
> set a 0 0 1\r\n1\r\nget a\r\nget a\r\nget a\r\n
> stats\r\n
=== idle-timeout-in-settings
flags: -o idle_timeout=7
> stats settings\r\n
=== memory-file-in-settings
# -e: stats settings shows the path as given. memcached maps the file (so it sits on
# /dev/shm) and preallocates every slab class with it, which needs -m 39 or more.
flags: -m 40 -e /dev/shm/ferrocache-transcript-memory-file
> stats settings\r\n
> set k 0 0 1\r\nv\r\nget k\r\n
