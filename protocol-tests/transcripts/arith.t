=== incr-basic
> set n 0 0 1\r\n1\r\nincr n 1\r\nget n\r\n
=== incr-missing
> incr n 1\r\n
=== decr-missing
> decr n 1\r\n
=== incr-noreply
> set n 0 0 1\r\n1\r\nincr n 5 noreply\r\nget n\r\n
=== incr-grows-length
> set n 0 0 2\r\n99\r\nincr n 1\r\nget n\r\n
=== decr-pads-with-spaces
> set n 0 0 3\r\n100\r\ndecr n 1\r\nget n\r\n
=== decr-floor-zero
> set n 0 0 1\r\n5\r\ndecr n 10\r\nget n\r\n
=== incr-wraps
> set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\nget n\r\n
=== incr-wraps-large-delta
> set n 0 0 1\r\n2\r\nincr n 18446744073709551615\r\n
=== incr-delta-too-big
> set n 0 0 1\r\n2\r\nincr n 18446744073709551616\r\n
=== incr-delta-negative
> set n 0 0 1\r\n2\r\nincr n -1\r\n
=== incr-delta-nonnumeric
> set n 0 0 1\r\n2\r\nincr n abc\r\n
=== incr-nonnumeric-value
> set n 0 0 3\r\nabc\r\nincr n 1\r\n
=== incr-negative-value
> set n 0 0 2\r\n-1\r\nincr n 1\r\n
=== incr-empty-value
> set n 0 0 0\r\n\r\nincr n 1\r\n
=== incr-leading-space-value
> set n 0 0 2\r\n 5\r\nincr n 1\r\nget n\r\n
=== incr-value-with-trailing-text
> set n 0 0 3\r\n5 x\r\nincr n 1\r\nget n\r\n
=== incr-value-digits-then-letters
> set n 0 0 3\r\n5ab\r\nincr n 1\r\n
=== incr-long-zero-padded
> set n 0 0 30\r\n000000000000000000000000000001\r\nincr n 1\r\nget n\r\n
=== incr-keeps-flags
> set n 42 0 1\r\n1\r\nincr n 1\r\nget n\r\n
=== incr-changes-cas
> set n 0 0 1\r\n1\r\ngets n\r\nincr n 1\r\ngets n\r\n
=== incr-too-few-tokens
> incr n\r\n
=== incr-too-many-tokens
> incr n 1 noreply x\r\n
=== decr-basic
> set n 0 0 2\r\n10\r\ndecr n 3\r\nget n\r\n
=== incr-key-251
> incr {k*251} 1\r\n
=== incr-then-decr-zero
> set n 0 0 1\r\n0\r\ndecr n 1\r\nincr n 0\r\n
