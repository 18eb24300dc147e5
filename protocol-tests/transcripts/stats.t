=== stats-fresh
> stats\r\n
=== stats-after-traffic
# incr runs on its own: memcached rewrites a number in place only when no reply still
# holds the item, which a pipelined get would
> set a 0 0 1\r\n1\r\nget a b\r\ngets a\r\ndelete b\r\n
> incr a 1\r\n
> decr z 1\r\ntouch a 1\r\ntouch z 1\r\ncas a 0 0 1 999\r\n2\r\ncas z 0 0 1 1\r\n2\r\nstats\r\n
=== stats-counts-expired
# Without the LRU maintainer: memcached's would now and then reclaim the dead item between
# the set and the get (reclaimed 1, expired_unfetched 1, get_expired 0; seen in CI under
# -vv), and ferrocache's background reclaim could do the same.
flags: -o no_lru_maintainer
> set a 0 -1 1\r\n1\r\nget a\r\nstats\r\n
=== stats-counts-flushed
# As stats-counts-expired: the get, not the maintainer, is to find the flushed item.
flags: -o no_lru_maintainer
> set a 0 0 1\r\n1\r\nflush_all\r\nget a\r\nstats\r\n
=== stats-gat-counts-touch
> set a 0 0 1\r\n1\r\ngat 0 a b\r\nstats\r\n
=== stats-reset
> set a 0 0 1\r\n1\r\nget a\r\nstats reset\r\nstats\r\n
=== stats-settings
> stats settings\r\n
=== stats-settings-flags
flags: -m 128 -c 500 -t 2 -I 2m -C -F -A -R 7 -b 99
> stats settings\r\n
=== stats-items-empty
> stats items\r\n
=== stats-items
> set a 0 0 1\r\n1\r\nset b 5 0 3\r\n123\r\nstats items\r\n
=== stats-slabs-empty
> stats slabs\r\n
=== stats-slabs
> set a 0 0 1\r\n1\r\nget a\r\nstats slabs\r\n
=== stats-sizes
> stats sizes\r\n
=== stats-conns
> stats conns\r\n
=== stats-conns-two
@b > version\r\n
> stats conns\r\n
=== stats-unknown
> stats nonsense\r\n
=== stats-detail-usage
> stats detail\r\n
=== stats-cachedump-short
> stats cachedump 1\r\n
=== stats-cachedump-bad-id
> stats cachedump 99 1\r\n
=== stats-bytes-and-items
> set a 0 0 10\r\n0123456789\r\nset bb 7 0 1\r\nx\r\nstats\r\n
=== stats-too-large-counter
flags: -I 512k
> set k 0 0 600000\r\n{x*600000}\r\nstats\r\n
=== stats-connections
@b > version\r\n
@c > version\r\n
> stats\r\n
=== stats-cachedump-items
# memcached lists an item once it has left the HOT LRU (about a second after the set)
> set a 0 0 1\r\n1\r\nset bb 0 0 3\r\nxyz\r\nset c 0 0 1\r\n3\r\ndelete c\r\n
sleep 1500
> stats cachedump 1 0\r\nstats cachedump 1 1\r\n
=== stats-cachedump-disabled
flags: -X
> set a 0 0 1\r\n1\r\nstats cachedump 1 0\r\n
=== stats-conns-states
# a client in the middle of a value is in conn_nread, one throwing a refused value away in
# conn_swallow, an idle one in conn_read, the one asking in conn_parse_cmd
> set foo 0 0 6\r\nab
@b > set big 0 0 2000000\r\nxyz
@c > version\r\n
@d > stats conns\r\n
=== stats-slabs-by-class
# items of three classes, one of them chunked (its header and value chunks in other classes)
> set a 0 0 1\r\n1\r\nset b 0 0 3000\r\n{x*3000}\r\nset c 0 0 600000\r\n{x*600000}\r\nget a b\r\nincr z 1\r\ntouch b 0\r\ncas a 0 0 1 1\r\n2\r\nstats slabs\r\nstats items\r\n
=== stats-slabs-other-table
# -f, -n and slab_chunk_max shape the class table as in memcached
flags: -f 1.5 -n 32 -I 1m -o slab_chunk_max=256
> set a 0 0 1\r\n1\r\nset b 0 0 2000\r\n{x*2000}\r\nstats slabs\r\nstats settings\r\n
=== stats-slabs-given-sizes
flags: -o slab_sizes=100-200-300
> set a 0 0 1\r\n1\r\nset b 0 0 250\r\n{x*250}\r\nstats slabs\r\n
=== stats-sizes-tracked
flags: -o track_sizes
> set a 0 0 1\r\n1\r\nset b 0 0 100\r\n{x*100}\r\nset c 0 0 101\r\n{x*101}\r\nstats sizes\r\nstats settings\r\n
=== stats-general-names
# every name of a fresh stats, after a few commands of each kind
> set a 0 0 1\r\n1\r\nget a\r\ndelete a\r\nstats\r\n
