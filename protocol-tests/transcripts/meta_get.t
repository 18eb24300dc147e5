=== mg-miss
> mg foo\r\n
=== mg-miss-value
> mg foo v\r\n
=== mg-miss-quiet
> mg foo v q\r\nmn\r\n
=== mg-miss-key-opaque
> mg foo k O123 v\r\n
=== mg-miss-all-return-flags
> mg foo s t c f h l k O9 v\r\n
=== mg-hit-no-flags
> ms foo 2\r\nhi\r\nmg foo\r\n
=== mg-hit-value
> ms foo 2\r\nhi\r\nmg foo v\r\n
=== mg-hit-all-flags-in-order
> ms foo 2 F7 T100\r\nhi\r\nmg foo s v t f c k O123 h l\r\n
=== mg-hit-flags-reverse-order
> ms foo 2 F7 T100\r\nhi\r\nmg foo l h O123 k c f t v s\r\n
=== mg-hit-quiet
# q hides only misses
> ms foo 2\r\nhi\r\nmg foo q v\r\nmg foo q\r\nmg bar q v\r\nmn\r\n
=== mg-pipelined-opaques
> ms a 1\r\n1\r\nms c 1\r\n3\r\nmg a O1 v q\r\nmg b O2 v q\r\nmg c O3 v q\r\nmn\r\n
=== mg-hit-before
> ms foo 2\r\nhi\r\nmg foo h\r\nmg foo h\r\nmg foo h v\r\n
=== mg-hit-before-after-get
> set foo 0 0 2\r\nhi\r\nget foo\r\nmg foo h\r\n
=== mg-hit-before-no-bump
# u: the item is not marked as fetched
> ms foo 2\r\nhi\r\nmg foo u h\r\nmg foo u h\r\nmg foo h\r\nmg foo h\r\n
=== mg-last-access
> ms foo 2\r\nhi\r\nmg foo l\r\n
sleep 2100
> mg foo l\r\nmg foo l\r\nmg foo l\r\n
=== mg-last-access-no-bump
> ms foo 2\r\nhi\r\n
sleep 2100
> mg foo l u\r\nmg foo l u\r\n
=== mg-ttl-unlimited
> ms foo 2\r\nhi\r\nmg foo t\r\n
=== mg-ttl-remaining
> ms foo 2 T100\r\nhi\r\nmg foo t\r\n
=== mg-ttl-remaining-after-sleep
> ms foo 2 T100\r\nhi\r\n
sleep 2100
> mg foo t v\r\n
=== mg-set-ttl
> ms foo 2\r\nhi\r\nmg foo T30 t\r\nmg foo t\r\n
=== mg-set-ttl-negative-expires
> ms foo 2\r\nhi\r\nmg foo T-1 v\r\nmg foo v\r\n
=== mg-set-ttl-zero
> ms foo 2 T100\r\nhi\r\nmg foo T0 t\r\nmg foo t\r\n
=== mg-touch-counts
> ms foo 2\r\nhi\r\nmg foo T30\r\nmg bar T30\r\nstats\r\n
=== mg-counts-gets
> ms foo 2\r\nhi\r\nmg foo v\r\nmg foo\r\nmg bar v\r\nstats\r\n
=== mg-expired
> ms foo 2 T1\r\nhi\r\n
sleep 2100
> mg foo v\r\n
=== mg-client-flags
> ms foo 2 F4294967295\r\nhi\r\nmg foo f\r\nset bar 123 0 1\r\nx\r\nmg bar f v\r\n
=== mg-flags-zero
> ms foo 2\r\nhi\r\nmg foo f\r\n
=== mg-cas
> ms foo 2\r\nhi\r\nms bar 2\r\nhi\r\nmg foo c\r\nmg bar c\r\ngets foo bar\r\n
=== mg-size
> ms foo 5\r\nhello\r\nmg foo s\r\nms empty 0\r\n\r\nmg empty s v\r\n
=== mg-key-flag
> ms foo 2\r\nhi\r\nmg foo k\r\n
=== mg-base64-key
> ms Zm9v 2 b\r\nhi\r\nget foo\r\nmg Zm9v b v\r\nmg Zm9v b k v\r\n
=== mg-base64-key-miss
> mg Zm9v b k O1\r\n
=== mg-base64-binary-key
> ms AAEC/w== 2 b\r\nhi\r\nmg AAEC/w== b k v c\r\n
=== mg-base64-bad
> mg !!!! b\r\n
=== mg-base64-bad-padding
> mg Zm9v= b\r\n
=== mg-base64-unpadded
> ms Zm8 2 b\r\nhi\r\nmg Zm8 b v\r\nget fo\r\n
=== mg-base64-key-too-long-decoded
> mg {Q*252} b\r\n
=== mg-duplicate-flag
> mg foo v v\r\n
=== mg-duplicate-flag-with-token
> mg foo O1 O2\r\n
=== mg-invalid-flag
> mg foo z\r\n
=== mg-invalid-flag-uppercase
> mg foo Y\r\n
=== mg-invalid-flag-digit
> mg foo 1\r\n
=== mg-invalid-then-duplicate
> mg foo z v v\r\n
=== mg-duplicate-then-invalid
> mg foo v v z\r\n
=== mg-flag-with-junk
> ms foo 2\r\nhi\r\nmg foo vxyz\r\n
=== mg-opaque-31
> mg foo O{x*31}\r\n
=== mg-opaque-32
> mg foo O{x*32}\r\n
=== mg-opaque-too-long-hit
> ms foo 2\r\nhi\r\nmg foo v O{x*40}\r\n
=== mg-opaque-empty
> mg foo O k\r\n
=== mg-key-250
> ms {k*250} 2\r\nhi\r\nmg {k*250} v k\r\n
=== mg-key-251
> mg {k*251} v\r\n
=== mg-no-key-space
> mg \r\n
=== mg-bad-ttl-token
> mg foo Tabc\r\n
=== mg-bad-ttl-empty
> mg foo T\r\n
=== mg-ignores-p-and-l-tokens
> ms foo 2\r\nhi\r\nmg foo Pxyz Lpath/ v\r\n
=== mg-compare-cas-match
> ms foo 2\r\nhi\r\nmg foo C1 v\r\n
=== mg-compare-cas-differs
> ms foo 2\r\nhi\r\nmg foo C99 v c\r\n
=== mg-vivify-miss
> mg foo N30 s t v c\r\nmg foo N30 s t v\r\nmg foo v\r\n
=== mg-vivify-then-set
> mg foo N30 v\r\nms foo 3\r\nnew\r\nmg foo N30 v\r\n
=== mg-vivify-hit
> ms foo 2\r\nhi\r\nmg foo N30 v t\r\n
=== mg-vivify-quiet
> mg foo N30 q\r\nmg foo N30 q\r\nmn\r\n
=== mg-vivify-bad-token
> mg foo Nx\r\n
=== mg-recache-win
> ms foo 2 T10\r\nhi\r\nmg foo R30 v t\r\nmg foo R30 v t\r\nmg foo v\r\n
=== mg-recache-no-win-ttl-higher
> ms foo 2 T100\r\nhi\r\nmg foo R30 v\r\n
=== mg-recache-no-ttl
> ms foo 2\r\nhi\r\nmg foo R30 v\r\n
=== mg-recache-bad-token
> mg foo R\r\n
=== mg-win-flag-order
> ms foo 2 T10\r\nhi\r\nmg foo R30 k O1 c\r\n
=== mg-e-flag-vivify
> mg foo E99 v\r\n
=== mg-get-after-mg-vivify
> mg foo N30\r\nget foo\r\ngets foo\r\n
=== mg-pipelined-with-get
> ms a 1\r\n1\r\nget a\r\nmg a v\r\ngets a\r\nmg a c v\r\n
=== mg-split-bytes
>> ms foo 2 T50 F3\r\nhi\r\nmg foo v t f c k O99\r\n
=== mg-bare-newline
> ms foo 2\nhi\r\nmg foo v\n
=== mg-many-spaces
> ms foo 2\r\nhi\r\nmg   foo   v    k\r\n
=== mg-flushed
> ms foo 2\r\nhi\r\nflush_all\r\nmg foo v\r\n
=== mg-tab-in-key
> ms a\tb 2\r\nhi\r\nmg a\tb v k\r\n
