# `stats detail`: per-prefix counters, and the order memcached lists them in.

=== detail-off-by-default
> set a:1 0 0 1\r\n1\r\nstats detail dump\r\n

=== detail-counts-gets-hits-sets-deletes
> stats detail on\r\nset foo:1 0 0 1\r\n1\r\nget foo:1 foo:2 bar:1 nodelim\r\ndelete foo:3\r\nstats detail dump\r\n

=== detail-lists-many-prefixes-in-memcached-order
> stats detail on\r\nset a:1 0 0 1\r\n1\r\nset b:1 0 0 1\r\n1\r\nset c:1 0 0 1\r\n1\r\nset d:1 0 0 1\r\n1\r\nset e:1 0 0 1\r\n1\r\nset f:1 0 0 1\r\n1\r\nset user:1 0 0 1\r\n1\r\nset session:1 0 0 1\r\n1\r\nset :1 0 0 1\r\n1\r\nstats detail dump\r\n

=== detail-counts-gat-and-too-large-and-not-meta
flags: -I 512k
> stats detail on\r\ngat 0 x:1\r\nset x:1 0 0 524288\r\n{v*524288}\r\nmg x:1 v\r\nms x:1 1\r\n1\r\nmd x:1\r\nstats detail dump\r\n

=== detail-long-key-stops-recording
# the keys before the long one are counted
known-difference: long-key-drops-replies
replace: CLIENT_ERROR bad command line format\r\n\r\n => OK\r\nCLIENT_ERROR bad command line format\r\n
> stats detail on\r\nget p:1 {k*251} p:2\r\nstats detail dump\r\n

=== detail-off-stops-recording
> stats detail on\r\nget p:1\r\nstats detail off\r\nget p:2\r\nstats detail dump\r\nstats settings\r\n

=== detail-reset-clears
> stats detail on\r\nget p:1\r\nstats reset\r\nstats detail dump\r\n

=== detail-delimiter-flag-turns-it-on
flags: -D /
> set a/b:c 0 0 1\r\n1\r\nstats detail dump\r\nstats settings\r\n

=== detail-usage
> stats detail\r\nstats detail bogus\r\nstats detail o\r\nstats d d\r\n

=== detail-not-allowed-with-dumping-disabled
flags: -X
> stats detail on\r\nstats detail dump\r\nstats cachedump 1 1\r\n
