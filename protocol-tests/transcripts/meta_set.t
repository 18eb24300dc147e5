=== ms-basic
> ms foo 2\r\nhi\r\nget foo\r\n
=== ms-flags-ttl
> ms foo 2 F5 T100\r\nhi\r\nget foo\r\nmg foo f t\r\n
=== ms-return-cas
> ms foo 2 c\r\nhi\r\nms foo 2 c\r\nhi\r\ngets foo\r\n
=== ms-return-key-opaque
> ms foo 2 k O55\r\nhi\r\n
=== ms-return-flags-order
> ms foo 2 O1 k c\r\nhi\r\n
=== ms-base64-key
> ms Zm9v 2 b k\r\nhi\r\nget foo\r\n
=== ms-quiet-success
> ms foo 2 q\r\nhi\r\nmn\r\n
=== ms-quiet-failure
> ms foo 2 q ME\r\nhi\r\nms foo 2 q ME\r\nhi\r\nmn\r\n
=== ms-mode-set
> ms foo 2 MS\r\nhi\r\nmg foo v\r\n
=== ms-mode-add-exists
> ms foo 2\r\nhi\r\nms foo 2 ME\r\nyo\r\nmg foo v\r\n
=== ms-mode-add-new
> ms foo 2 ME\r\nyo\r\nmg foo v\r\n
=== ms-mode-replace-miss
> ms foo 2 MR\r\nyo\r\nmg foo v\r\n
=== ms-mode-replace-hit
> ms foo 2\r\nhi\r\nms foo 2 MR F9\r\nyo\r\nmg foo v f\r\n
=== ms-mode-append
> ms foo 2 F3 T100\r\nhi\r\nms foo 2 MA F9 T5\r\nXY\r\nmg foo v f t\r\n
=== ms-mode-prepend
> ms foo 2\r\nhi\r\nms foo 2 MP\r\nAB\r\nmg foo v\r\n
=== ms-mode-append-miss
> ms foo 2 MA\r\nXY\r\nmg foo v\r\n
=== ms-mode-append-vivify
> ms foo 2 MA N100\r\nXY\r\nmg foo v t\r\n
=== ms-mode-prepend-vivify
> ms foo 2 MP N0\r\nXY\r\nmg foo v t\r\n
=== ms-mode-lowercase
> ms foo 2 Ms\r\nhi\r\nms foo 2 Ma\r\nhi\r\n
=== ms-mode-invalid
> ms foo 2 MX\r\nhi\r\nmg foo v\r\n
=== ms-mode-too-long
> ms foo 2 MSS\r\nhi\r\nmg foo v\r\n
=== ms-mode-empty
> ms foo 2 M\r\nhi\r\nmg foo v\r\n
=== ms-cas-match
> ms foo 2\r\nhi\r\nms foo 2 C1 c\r\nyo\r\nmg foo v c\r\n
=== ms-cas-mismatch
> ms foo 2\r\nhi\r\nms foo 2 C99 c\r\nyo\r\nmg foo v c\r\n
=== ms-replace-with-cas-is-a-cas
# memcached turns a replace with a CAS into its cas: a mismatch is EX (not stored), a
# match stores, a missing key is NF
> ms foo 2\r\nhi\r\n
> ms foo 2 MR C99 c\r\nyo\r\n
> mg foo v c\r\n
> ms foo 2 MR C2 c\r\nyo\r\n
> mg foo v c\r\n
> ms nope 2 MR C2\r\nyo\r\n
> ms nope 2 MR\r\nyo\r\n
=== ms-cas-miss
> ms foo 2 C1\r\nyo\r\nmg foo v\r\n
=== ms-cas-quiet-mismatch
> ms foo 2\r\nhi\r\nms foo 2 C99 q\r\nyo\r\nmn\r\n
=== ms-cas-append
> ms foo 2\r\nhi\r\nms foo 2 MA C1\r\nXY\r\nms foo 2 MA C1\r\nZZ\r\nmg foo v\r\n
=== ms-cas-bad-token
> ms foo 2 Cx\r\nhi\r\nmg foo v\r\n
=== ms-invalidate-older-cas
> ms foo 2\r\nhi\r\nms foo 2\r\nhi\r\nms foo 2 I C1\r\nol\r\nmg foo v c\r\nmg foo v c\r\n
=== ms-invalidate-newer-cas
> ms foo 2\r\nhi\r\nms foo 2 I C99\r\nnw\r\nmg foo v\r\n
=== ms-invalidate-no-cas
> ms foo 2\r\nhi\r\nms foo 2 I\r\nnw\r\nmg foo v\r\n
=== ms-after-invalidate-clears-stale
> ms foo 2\r\nhi\r\nmd foo I\r\nmg foo v\r\nms foo 2\r\nnw\r\nmg foo v\r\n
=== ms-size-flag
> ms foo 2 s\r\nhi\r\n
=== ms-client-cas
> ms foo 2 E55 c\r\nhi\r\nmg foo v c\r\n
=== ms-flags-max
> ms foo 2 F4294967295\r\nhi\r\nmg foo f\r\n
=== ms-flags-bad
> ms foo 2 Fx\r\nhi\r\nmg foo v\r\n
=== ms-flags-negative
> ms foo 2 F-1\r\nhi\r\nmg foo v\r\n
=== ms-ttl-bad
> ms foo 2 Tx\r\nhi\r\nmg foo v\r\n
=== ms-ttl-negative
> ms foo 2 T-1\r\nhi\r\nmg foo v\r\n
=== ms-ttl-absolute-past
> ms foo 2 T1000000000\r\nhi\r\nmg foo v\r\n
=== ms-ttl-expires
> ms foo 2 T1\r\nhi\r\n
sleep 2100
> mg foo v\r\n
=== ms-empty-value
> ms foo 0\r\n\r\nmg foo v s\r\n
=== ms-no-datalen
> ms foo\r\n
=== ms-bad-datalen
> ms foo abc\r\nhi\r\n
=== ms-negative-datalen
> ms foo -1\r\nhi\r\n
=== ms-datalen-with-flag-char
> ms foo 2q\r\nhi\r\n
=== ms-key-too-long
> ms {k*251} 2\r\nhi\r\nmg a\r\n
=== ms-key-250
> ms {k*250} 2\r\nhi\r\nmg {k*250} v\r\n
=== ms-duplicate-flag
> ms foo 2 c c\r\nhi\r\nmg foo v\r\n
=== ms-invalid-flag
> ms foo 2 v\r\nhi\r\nmg foo v\r\n
=== ms-invalid-flag-quiet
> ms foo 2 q v\r\nhi\r\nmg foo v\r\n
=== ms-bad-data-chunk
> ms foo 2\r\nhiXX\r\nmg foo v\r\n
=== ms-data-too-short
> ms foo 3\r\nhi\r\n\r\nmg foo v\r\n
=== ms-data-with-newlines
> ms foo 4\r\n\r\n\r\n\r\nmg foo v\r\n
=== ms-too-large
> ms foo 2000000\r\n
=== ms-too-large-then-data
> ms foo 1048577\r\n{x*1048577}\r\nmg foo v\r\n
=== ms-too-large-removes-old
> ms foo 2\r\nhi\r\nms foo 1048577\r\n{x*1048577}\r\nmg foo v\r\n
=== ms-too-large-append
> ms foo 2\r\nhi\r\nms foo 1048577 MA\r\n{x*1048577}\r\nmg foo v\r\n
=== ms-too-large-quiet
> ms foo 1048577 q\r\n{x*1048577}\r\nmn\r\n
=== ms-near-limit
> ms foo 1048000\r\n{x*1048000}\r\nmg foo s\r\n
=== ms-split-bytes
>> ms foo 5 F1 T0 c k O7\r\nhello\r\nmg foo v f\r\n
=== ms-pipelined
> ms a 1 q\r\n1\r\nms b 1 q\r\n2\r\nms c 1 q\r\n3\r\nmn\r\nget a b c\r\n
=== ms-counts-sets
> ms foo 2\r\nhi\r\nms foo 2 ME\r\nhi\r\nms bar 2 C5\r\nhi\r\nstats\r\n
=== ms-invalidate-flag-only
> ms foo 2 I\r\nhi\r\nmg foo v\r\n
=== ms-then-incr
> ms n 2\r\n10\r\nincr n 5\r\nmg n v\r\n
=== ms-noreply-token-is-invalid
> ms foo 2 noreply\r\nhi\r\nmg foo v\r\n
=== ms-large-value
# A value kept in the read buffer it arrived in, then read back, appended to and read again.
> ms big 300000 F5 T0\r\n{x*300000}\r\nmg big v f k\r\n
> ms big 20000 MA\r\n{y*20000}\r\nmg big s v\r\n
=== ms-large-header-first
> ms big 200000 F3\r\n
> {z*200000}\r\n
> mg big v f\r\nget big\r\n
