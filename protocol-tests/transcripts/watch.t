# `watch` log streams. A watcher on @b, traffic on @a, then what @b received: memcached's
# logger thread passes lines on within a second, hence the sleeps. The `ts=`, `rport=` and
# `cfd=` values are normalised (src/normalize.rs); `gid=` and the rest are compared.
=== watch-fetchers-default
@b > watch\r\n
> set foo 0 0 3\r\nbar\r\nget foo\r\nget nope\r\ngets foo nope\r\n
> touch foo 100\r\ngat 0 foo\r\ngats 0 nope\r\nincr foo 1\r\ndelete foo\r\ndelete foo\r\n
sleep 1500
@b >
=== watch-mutations
@b > watch mutations\r\n
> set a 5 0 2\r\nhi\r\nadd a 0 0 1\r\nx\r\nadd b 0 100 1\r\nx\r\nreplace c 0 0 1\r\nx\r\nreplace a 0 0 1\r\ny\r\n
> append a 0 0 2\r\n!!\r\nprepend zz 0 0 1\r\nx\r\ncas a 0 0 1 1\r\nz\r\ncas nope 0 0 1 1\r\nz\r\ngets a\r\n
> cas a 0 0 1 9\r\nz\r\nset k 0 2592000 1\r\nx\r\n
sleep 1500
@b >
=== watch-deletions
@b > watch deletions\r\n
> set a 0 0 3\r\nabc\r\nset b 0 0 1\r\nx\r\ndelete a\r\ndelete a\r\nmd b\r\nmd b\r\n
> set c 0 0 1\r\nx\r\nmd c I\r\nmd c q\r\nmn\r\n
sleep 1500
@b >
=== watch-meta
@b > watch fetchers mutations deletions\r\n
> ms m 2 T0 F3\r\nhi\r\nmg m v f t\r\nmg none v\r\nmg none v q\r\nmn\r\nma m\r\nma n N0 J5\r\nma n\r\nme m\r\n
> ms m 1 MA\r\n!\r\nms m2 1 MR\r\nx\r\nms m3 1 MA N0\r\nx\r\nms m I C1\r\nz\r\nmd m\r\n
sleep 1500
@b >
=== watch-keys-are-uri-encoded
@b > watch fetchers mutations\r\n
> set a/b:c%d 0 0 1\r\nx\r\nget A-Z.a_z~0\r\nmg dGVzdA== b v\r\n
sleep 1500
@b >
=== watch-flushed-and-expired
@b > watch fetchers\r\n
> set f 0 0 1\r\nx\r\nflush_all\r\nget f\r\n
> set d 0 0 1\r\nx\r\nflush_all 1\r\n
sleep 2100
> get d\r\n
sleep 1500
@b >
=== watch-connevents
# memcached logs each connection's events on its own worker thread and its logger reads
# the threads' buffers one after the other: events of two connections are read apart.
@b > watch connevents\r\n
@c > version\r\n
sleep 1500
@b >
@d > version\r\n
sleep 1500
@b >
@c > quit\r\n
sleep 1500
@b >
@d > version\r\n
=== watch-several-streams-and-watchers
# Each watcher gets the lines of its own streams; a line goes to every watcher that asked.
@b > watch fetchers\r\n
@c > watch mutations deletions\r\n
> set a 0 0 1\r\n1\r\nget a\r\ndelete a\r\n
sleep 1500
@b >
@c >
=== watch-abbreviated-streams
@b > watch f m\r\n
> set a 0 0 1\r\n1\r\nget a\r\n
sleep 1500
@b >
=== watch-input-is-ignored
# A watcher's connection reads what it is sent and does nothing with it.
@b > watch mutations\r\n
@b > get a\r\nset x 0 0 1\r\n1\r\n
> set a 0 0 1\r\n1\r\n
sleep 1500
@b >
=== watch-unknown-stream
# Each on a connection of its own: memcached refuses a watch that follows other requests
# of the same read (crates/server/tests/watch.rs checks that).
> watch fetchers bogus\r\n
@b > watch noreply\r\n
@c > watch fetcherss\r\n
@c > version\r\n
=== watch-proxy-streams-accepted
# memcached accepts the proxy's stream names even when no proxy runs; nothing comes.
# (sysevents is left out: memcached's LRU crawler logs there, and ferrocache has none.)
@b > watch proxyreqs proxyevents proxyuser rawcmds\r\n
> set a 0 0 1\r\n1\r\nget a\r\n
sleep 1500
@b >
=== watch-disabled
flags: -W
> watch\r\n
> watch bogus\r\n
> version\r\n
=== watch-stats
@b > watch fetchers\r\n
> set a 0 0 1\r\n1\r\nget a\r\nget b\r\n
sleep 1500
@b >
> stats\r\n
=== watch-logbuf-settings
flags: -o watcher_logbuf_size=1,worker_logbuf_size=2
> stats settings\r\n
=== watch-stats-conns
@b > watch\r\n
sleep 200
> stats conns\r\n
=== watch-stats-reset
@b > watch fetchers\r\n
> set a 0 0 1\r\n1\r\nget a\r\n
sleep 1500
@b >
> stats reset\r\nstats\r\n
