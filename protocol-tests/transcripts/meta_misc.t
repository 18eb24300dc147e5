=== md-hit
> ms foo 2\r\nhi\r\nmd foo\r\nmg foo v\r\n
=== md-miss
> md foo\r\n
=== md-quiet
> ms foo 2\r\nhi\r\nmd foo q\r\nmd foo q\r\nmn\r\n
=== md-key-opaque
> ms foo 2\r\nhi\r\nmd foo k O5\r\nmd foo k O6\r\n
=== md-base64
> ms foo 2\r\nhi\r\nmd Zm9v b k\r\nmg foo v\r\n
=== md-cas-match
> ms foo 2\r\nhi\r\nmd foo C1\r\nmg foo v\r\n
=== md-cas-mismatch
> ms foo 2\r\nhi\r\nmd foo C9\r\nmg foo v\r\n
=== md-cas-mismatch-quiet
> ms foo 2\r\nhi\r\nmd foo C9 q\r\nmn\r\n
=== md-invalidate
> ms foo 2 T100\r\nhi\r\nmd foo I\r\nmg foo v c t\r\nmg foo v c\r\nmg foo v c\r\n
=== md-invalidate-ttl
> ms foo 2\r\nhi\r\nmd foo I T30\r\nmg foo t v\r\n
=== md-ttl-without-invalidate
> ms foo 2\r\nhi\r\nmd foo T30\r\nmg foo t v\r\n
=== md-remove-value
> ms foo 2 F4 T100\r\nhi\r\nmd foo x\r\nmg foo v f t s\r\n
=== md-remove-value-invalidate
> ms foo 2\r\nhi\r\nmd foo x I\r\nmg foo v s\r\n
=== md-invalidate-then-recache
> ms foo 2\r\nhi\r\nmd foo I\r\nmg foo v\r\nms foo 2 C2\r\nnw\r\nmg foo v c\r\n
=== md-invalidate-get
> ms foo 2\r\nhi\r\nmd foo I\r\nget foo\r\ngets foo\r\n
=== md-invalidate-miss
> md foo I\r\n
=== md-bad-flag
> md foo v\r\n
=== md-key-too-long
> md {k*251}\r\n
=== md-counts
> ms foo 2\r\nhi\r\nmd foo\r\nmd foo\r\nstats\r\n
=== md-client-cas
> ms foo 2\r\nhi\r\nmd foo I E77\r\nmg foo v c\r\n
=== ma-basic
> ms n 1\r\n5\r\nma n\r\nmg n v\r\n
=== ma-value
> ms n 1\r\n5\r\nma n v\r\nma n v D10\r\n
=== ma-decr
> ms n 2\r\n10\r\nma n MD v\r\nma n M- v D100\r\nma n MI v\r\nma n M+ v\r\n
=== ma-wrap
> ms n 20\r\n18446744073709551615\r\nma n v\r\n
=== ma-miss
> ma n\r\nma n v\r\n
=== ma-miss-quiet
> ma n q\r\nmn\r\n
=== ma-quiet-hit
> ms n 1\r\n5\r\nma n q\r\nma n q v\r\nmn\r\nmg n v\r\n
=== ma-vivify
> ma n N0 v\r\nma n N0 v\r\nmg n v t\r\n
=== ma-vivify-initial
> ma n N100 J42 v t\r\nma n N100 J42 v\r\n
=== ma-vivify-decr
> ma n N0 J7 MD v\r\n
=== ma-initial-without-vivify
> ma n J42 v\r\n
=== ma-flags-returned
> ms n 1 T100\r\n5\r\nma n t c v k O3\r\n
=== ma-ttl-update
> ms n 1\r\n5\r\nma n T100 t\r\nmg n t\r\n
=== ma-cas-match
> ms n 1\r\n5\r\nma n C1 v c\r\n
=== ma-cas-mismatch
> ms n 1\r\n5\r\nma n C9 v\r\nmg n v\r\n
=== ma-non-numeric
> ms n 2\r\nhi\r\nma n\r\n
=== ma-bad-delta
> ms n 1\r\n5\r\nma n Dx\r\nma n D-1\r\n
=== ma-bad-initial
> ma n N0 Jx\r\n
=== ma-bad-mode
> ma n MX\r\nma n Mxx\r\n
=== ma-invalid-flag
> ma n s\r\n
=== ma-length-grows
> ms n 1\r\n9\r\nma n v\r\nmg n v s\r\n
=== ma-length-shrinks
> ms n 3\r\n100\r\nma n MD v\r\nmg n v s\r\nget n\r\n
=== ma-base64
> ms n 1\r\n5\r\nma bg== b v k\r\n
=== ma-counts
> ms n 1\r\n5\r\nma n\r\nma n MD\r\nma x\r\nma x MD\r\nstats\r\n
=== ma-client-cas
> ms n 1\r\n5\r\nma n E500 c\r\n
=== me-hit
> ms foo 2\r\nhi\r\nme foo\r\n
=== me-miss
> me foo\r\n
=== me-ttl-fetched
> ms foo 2 T100 F3\r\nhi\r\nmg foo v\r\nme foo\r\n
=== me-base64
> ms foo 2\r\nhi\r\nme Zm9v b\r\n
=== me-sizes
> ms a 100\r\n{x*100}\r\nms b 1000\r\n{x*1000}\r\nms c 10000\r\n{x*10000}\r\nme a\r\nme b\r\nme c\r\n
=== me-no-key
> me\r\n
=== me-key-too-long
> me {k*251}\r\n
=== me-extra-tokens
> ms foo 2\r\nhi\r\nme foo v k\r\n
=== mn-with-args
> mn foo\r\n
=== meta-uppercase-unknown
> MG foo\r\n
=== meta-unknown-m
> mq foo\r\nmx foo v\r\n
=== meta-stale-win-sequence
# invalidate, then the first reader wins the recache, later readers see Z
> ms foo 2 T100\r\nhi\r\nmd foo I T30\r\n
@b > mg foo v c t\r\n
@c > mg foo v c t\r\n
> ms foo 2 C2 I\r\nnw\r\nmg foo v c\r\nms foo 2 C3\r\nok\r\nmg foo v c\r\n
=== meta-mixed-with-classic
> set a 0 0 1\r\n1\r\nmg a v f c\r\nms a 2 F9\r\n22\r\ngets a\r\nincr a 1\r\nmg a v\r\ndelete a\r\nmg a v\r\n
=== meta-noreply-mix
> ms a 1 q\r\n1\r\nmg a q v\r\nmg b q v\r\nmd a q\r\nmd a q\r\nmn\r\n
=== meta-24-flags
> ms foo 2\r\nhi\r\nmg foo v k c f s t h l O1 P1 L1 u q\r\n
=== meta-too-many-tokens
> mg foo v k c f s t h l O1 P1 L1 u q T1 N1 R1 b E1 C1 Pa Pb Pc Pd Pe\r\n
=== meta-split-pipeline
>> ms a 1 q\r\n1\r\nmg a v\r\nma n N0 v\r\nmd a\r\nmn\r\n
=== me-counts-meta
> ms foo 2\r\nhi\r\nme foo\r\nme bar\r\nmg foo\r\nstats\r\n
=== me-binary-key
> ms Zm9v 2 b\r\nhi\r\nme Zm9v b\r\nme foo\r\n
=== me-large-item
> ms big 600000\r\n{x*600000}\r\nms mid 400000\r\n{x*400000}\r\nme big\r\nme mid\r\n
=== me-after-touch
> ms foo 2\r\nhi\r\ntouch foo 100\r\nme foo\r\n
=== mg-binary-stored-key-plain-get
> ms Zm9v 2 b\r\nhi\r\nmg foo k v\r\nmg Zm9v b k\r\n
=== mg-plain-stored-key-base64-get
> ms foo 2\r\nhi\r\nmg Zm9v b k v\r\nmd Zm9v b k q\r\nmn\r\n
=== ms-base64-bad
> ms !!!! 2 b\r\nhi\r\nmg a\r\n
=== ms-base64-decoded-key-too-long
> ms {Q*252} 2 b\r\nhi\r\nmg a\r\n
=== md-invalid-flag
> md foo z\r\nmd foo k k\r\n
=== ma-invalid-flag-char
> ma n z\r\nma n v v\r\n
=== ma-key-too-long
> ma {k*251}\r\n
=== md-no-key-space
> md \r\n
=== mg-17-flags
> mg foo v k c f s t h l u q P1 P2 P3 P4 P5 P6 P7\r\n
=== mg-18-flags
> mg foo v k c f s t h l u q Pa Pb Pc Pd Pe Pf Pg Ph\r\n
=== mg-19-flags
> mg foo v k c f s t h l u q Pa Pb Pc Pd Pe Pf Pg Ph Pi\r\n
=== ms-many-flags
> ms foo 2 c k s t f h l u q Pa Pb Pc Pd Pe Pf Pg\r\nhi\r\nms foo 2 c k s t f h l u q Pa Pb Pc Pd Pe Pf Pg Ph\r\nhi\r\nmn\r\n
=== md-many-flags
> md foo k q Pa Pb Pc Pd Pe Pf Pg Ph Pi Pj Pk Pl Pm Pn Po\r\nmd foo k q Pa Pb Pc Pd Pe Pf Pg Ph Pi Pj Pk Pl Pm Pn Po Pp\r\nmn\r\n
=== ma-many-flags
> ma foo k q Pa Pb Pc Pd Pe Pf Pg Ph Pi Pj Pk Pl Pm Pn Po\r\nma foo k q Pa Pb Pc Pd Pe Pf Pg Ph Pi Pj Pk Pl Pm Pn Po Pp\r\nmn\r\n
=== mg-stale-touch
> ms foo 2\r\nhi\r\nmd foo I\r\nmg foo T30 t v\r\nmg foo u v h\r\n
=== mg-gat-then-hit-before
> ms foo 2\r\nhi\r\ngat 10 foo\r\nmg foo h\r\n
=== mg-touch-then-hit-before
> ms foo 2\r\nhi\r\ntouch foo 10\r\nmg foo h\r\n
=== mg-hit-before-after-incr
# each command in its own packet: memcached rewrites a number in place (keeping the item's
# fetched mark) only when no reply still holds the item
> ms foo 1\r\n1\r\n
> mg foo\r\n
> incr foo 1\r\n
> mg foo h\r\n
> incr foo 100\r\n
> mg foo h\r\n
=== mg-hit-before-after-append
> ms foo 1\r\n1\r\nmg foo\r\nappend foo 0 0 1\r\n2\r\nmg foo h v\r\n
=== mg-recache-stale-vivify
> mg foo N30 R30 v\r\nmg foo N30 R30 v\r\n
=== ma-stale-item
> ms n 1\r\n5\r\nmd n I\r\nma n v\r\nmg n v\r\n
=== ms-stale-append
> ms foo 2\r\nhi\r\nmd foo I\r\nms foo 2 MA\r\nXY\r\nmg foo v\r\n
=== mg-vivify-ttl-negative
> mg foo N-1 v\r\nmg foo v\r\n
=== mn-pipelined-after-error
> mg foo zz\r\nmn\r\n
=== mg-no-key-2
> mg\r\n
=== ms-no-key-2
> ms\r\n
=== md-no-key-2
> md\r\n
=== ma-no-key-2
> ma\r\n
=== mg-vivify-counts
> mg foo N30\r\nmg foo N30 T30\r\nmg bar N30 T30\r\nstats\r\n
=== ms-unreturned-flags
> ms foo 2 t f h l u v k c O1\r\nhi\r\n
=== ms-opaque-too-long
> ms foo 2 O{x*40}\r\nhi\r\nmg foo v\r\n
=== md-opaque-too-long
> ms foo 2\r\nhi\r\nmd foo O{x*40}\r\nmg foo v\r\n
=== ma-opaque-long
> ms n 1\r\n1\r\nma n O{x*40} v\r\n
=== me-bad-base64
> me !!!! b\r\nme foo bx\r\n
=== ms-error-precedence
> ms foo 2 Tx Fx\r\nhi\r\nms foo 2 Fx Tx\r\nhi\r\nms foo 2 Tx z\r\nhi\r\nms foo 2 O1 Fx\r\nhi\r\nms foo 2 MX Tx\r\nhi\r\nms foo 2 Mxx MX\r\nhi\r\nmn\r\n
=== mg-error-precedence
> mg foo Tx z\r\nmg foo z Tx\r\nmg foo b Tx\r\nmg foo \xff\r\nmg foo T\xff\r\nmg foo Nx Rx\r\n
=== mg-ttl-before-touch
> ms foo 2 T100\r\nhi\r\nmg foo t T-1\r\nmg foo v\r\n
=== mg-vivify-touch-order
> mg new2 N30 T40 t\r\nmg new3 T40 N30 t\r\nmg new4 t N30\r\n
=== ma-vivify-cas
> ma k N0 J5 C5\r\nma k C5 v\r\n
=== ma-vivify-ttl
> ma k2 N0 J5 T100 t v\r\n
=== ms-invalidate-quiet
> ms foo 2\r\nhi\r\nms foo 2\r\nhi\r\nms foo 2 I C1 q\r\nhi\r\nmn\r\n
=== ms-flags-wrap
> ms foo 2 F4294967296\r\nhi\r\nmg foo f\r\nms foo 2 F4294967297\r\nhi\r\nmg foo f\r\n
=== ma-mode-lowercase
> ms n 2\r\n10\r\nma n Mi v\r\nma n Md v\r\n
=== ma-miss-echoes
> ma n k O5\r\nma n k O5 q\r\nmn\r\n
=== ma-cas-mismatch-echoes
> ms n 1\r\n5\r\nma n C9 k O5 c t\r\n
=== md-cas-mismatch-echoes
> ms foo 2\r\nhi\r\nmd foo C9 k O5\r\n
=== ms-not-stored-echoes
> ms foo 2 MR k O5 c\r\nhi\r\n
=== mg-vivify-base64
> mg Zm9v b N30 k v\r\nget foo\r\nme foo\r\n
