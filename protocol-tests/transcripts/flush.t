=== flush-all
> set a 0 0 1\r\n1\r\nflush_all\r\nget a\r\n
=== flush-all-zero
> set a 0 0 1\r\n1\r\nflush_all 0\r\nget a\r\n
=== flush-all-noreply
> set a 0 0 1\r\n1\r\nflush_all noreply\r\nget a\r\n
=== flush-all-delay-noreply
> flush_all 10 noreply\r\nversion\r\n
=== flush-all-bad-delay
> flush_all abc\r\n
=== flush-all-negative
> set a 0 0 1\r\n1\r\nflush_all -1\r\nget a\r\n
=== flush-all-too-many
> flush_all 1 2 3\r\n
=== flush-then-set
> set a 0 0 1\r\n1\r\nflush_all\r\nset b 0 0 1\r\n2\r\nget a b\r\n
=== flush-spends-a-cas
> set a 0 0 1\r\n1\r\nflush_all\r\nset b 0 0 1\r\n2\r\ngets b\r\n
=== flush-delayed
> set a 0 0 1\r\n1\r\nflush_all 2\r\nget a\r\n
sleep 3100
> get a\r\nset b 0 0 1\r\n2\r\nget b\r\n
=== flush-then-add-replace
> set a 0 0 1\r\n1\r\nflush_all\r\nreplace a 0 0 1\r\n2\r\nadd a 0 0 1\r\n3\r\nget a\r\n
=== flush-then-incr
> set a 0 0 1\r\n1\r\nflush_all\r\nincr a 1\r\n
=== flush-all-absolute-future
# a delay over 30 days is a unix time: far in the future, nothing is flushed yet
> set a 0 0 1\r\n1\r\nflush_all 4000000000\r\nget a\r\n
=== flush-all-absolute-past
# a unix time in the past turns the flush off altogether in memcached
> set a 0 0 1\r\n1\r\nflush_all 1000000000\r\nget a\r\n
=== flush-later-overrides-earlier
> set a 0 0 1\r\n1\r\nflush_all 100\r\nflush_all 0\r\nget a\r\nset b 0 0 1\r\n2\r\nget b\r\n
=== flush-counts-in-stats
> flush_all\r\nflush_all abc\r\nflush_all 0 noreply\r\nstats\r\n
