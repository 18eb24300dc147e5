# memcached's -vv trace for text and meta commands (see tests/verbose_log.rs): which replies
# it shows (out_string's) and which not (delete, incr, touch, the meta handlers').

=== vv-storage-and-retrieval
> set foo 0 0 3\r\nbar\r\n
> get foo nope\r\n
> gets foo\r\n
> gat 10 foo nope\r\n
> touch foo 10\r\n
> cas foo 0 0 1 999\r\nx\r\n
> append foo 0 0 1\r\nz\r\n
> prepend nope 0 0 1\r\nz\r\n
> add foo 0 0 1\r\nz\r\n
> replace nope 0 0 1\r\nz\r\n
> set a 0 0 1 noreply\r\nx\r\n
> delete nope\r\n
> delete a noreply\r\n
> incr nope 1\r\n
> decr foo 1\r\n
> set n 0 0 1\r\n5\r\n
> incr n 10\r\n
> quit\r\n

=== vv-errors
# the request parser's and the admin commands' errors are shown; those of the storage,
# delete, incr and touch handlers are not
> bogus\r\n
> bogus noreply\r\n
> get\r\n
> \r\n
> delete {k*251}\r\n
> incr {k*251} 1\r\n
> incr a x\r\n
> touch a x\r\n
> gat x a\r\n
> set a x 0 1\r\nz\r\n
> set a 0 0 x\r\n
> set a 0 0 1\r\nzzz\r\n
> set {k*251} 0 0 1\r\nz\r\n
> get a\0junk\r\n
> version noreply\r\n
> flush_all x\r\n
> flush_all noreply\r\n
> verbosity\r\n
> shutdown\r\n
> GET / HTTP/1.1\r\n

=== vv-meta
# the meta commands show only mn, a missing me, and their parser's errors
> ms foo 2 T0 F5\r\nhi\r\n
> mg foo v k c f\r\n
> mg nope v\r\n
> mg foo Z\r\n
> mg foo O{x*40}\r\n
> ms foo 2 O{x*40}\r\nhi\r\n
> ms foo 2 MZ\r\nhi\r\n
> ms foo 2 C999\r\nhi\r\n
> ms foo 2 MR C999\r\nhi\r\n
> ms foo 2 MA C999\r\nhi\r\n
> ms foo x\r\n
> ms foo\r\n
> mg\r\n
> md foo q\r\n
> md foo\r\n
> ma n N0 J5\r\n
> ma foo\r\n
> ma n MZ\r\n
> me foo\r\n
> me nope\r\n
> me\r\n
> me {k*251}\r\n
> mn\r\n
> mz\r\n

=== vv-admin
> stats reset\r\n
> stats nonsense\r\n
> stats cachedump 1 1\r\n
> stats cachedump x\r\n
> stats cachedump 99 1\r\n
> stats detail\r\n
> stats detail on\r\n
> set a:b 0 0 1\r\nx\r\n
> stats detail dump\r\n
> stats detail off\r\n
> stats settings\r\n
> slabs automove 1\r\n
> slabs automove x\r\n
> cache_memlimit 100\r\n
> cache_memlimit 2\r\n
> cache_memlimit x\r\n
> flush_all 0\r\n
> refresh_certs\r\n
> debugtime 1\r\n
> extstore junk 1\r\n

=== vv-verbosity-at-run-time
# `verbosity 0` stops the trace until `verbosity 2` starts it again; `verbosity 1` keeps
# only the -v lines
> get a\r\n
> verbosity 0\r\n
> get a\r\n
> cache_memlimit 80\r\n
> verbosity 1\r\n
> get a\r\n
> cache_memlimit 90\r\n
> verbosity 2\r\n
> get a\r\n

=== vv-two-connections
> set a 0 0 1\r\nx\r\n
@b > get a\r\n
> quit\r\n
@b > gets a\r\n

=== vv-cas-failures
# memcached's `CAS:  failure` line, for cas, ms with a CAS (set and replace modes) and a
# binary set with a CAS
> set a 0 0 1\r\nx\r\n
> cas a 0 0 1 999\r\ny\r\n
> cas nope 0 0 1 999\r\ny\r\n
> ms a 1 C5\r\ny\r\n
> ms a 1 MR C5\r\ny\r\n
> ms a 1 ME C5\r\ny\r\n
@b > \x80\x01\x00\x01\x08\x00\x00\x00\x00\x00\x00\x0a\x01\x02\x03\x04\x00\x00\x00\x00\x00\x00\x03\x09\x00\x00\x00\x00\x00\x00\x00\x00\x61\x76

=== vv-ascii-listener
flags: -B ascii
> get a\r\n

=== vv-binary-listener
flags: -B binary
> \x80\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00

=== vv-cas-disabled
flags: -C
> set a 0 0 1\r\nx\r\n
> cas a 0 0 1 0\r\ny\r\n
> gets a\r\n

=== vv-ascii-auth
# -Y: the listener speaks ascii only; the authentication replies are shown, its lines not
flags: -Y fixtures/authfile
> set x 0 0 3\r\nabc\r\n
> set x 0 0 11\r\nuser1 wrong\r\n
> set x 0 0 11\r\nuser1 pass1\r\n
> get a\r\n
@b > get a\r\n

=== vv-large-value-in-pieces
# a command line is shown once, when it arrives, however long its data takes
> set big 0 0 300000\r\n{v*1000}
> {v*299000}\r\n
> get nope\r\n

=== vv-too-large
# refused when its line arrives (memcached shows the line, not its error), then swallowed
> set a 0 0 2000000\r\n{v*1000}
> {v*1999000}\r\nget a\r\n
