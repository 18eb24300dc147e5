=== set-basic
# set then get returns the value with its flags
> set k 0 0 5\r\nhello\r\n
> get k\r\n
=== set-flags-max
> set k 4294967295 0 1\r\nx\r\nget k\r\n
=== set-flags-wrap
# flags parse as a 64-bit number stored in 32 bits
> set k 4294967296 0 1\r\nx\r\nget k\r\n
=== set-flags-negative
> set k -1 0 1\r\nx\r\n
=== set-flags-nonnumeric
> set k abc 0 1\r\nx\r\n
=== set-flags-plus-sign
> set k +5 0 1\r\nx\r\nget k\r\n
=== set-empty-value
> set k 0 0 0\r\n\r\nget k\r\n
=== set-value-with-crlf-inside
> set k 0 0 6\r\na\r\nb\r\n\r\nget k\r\n
=== set-binary-value
> set k 0 0 4\r\n\x00\xff\x01\x80\r\nget k\r\n
=== set-overwrites
> set k 1 0 1\r\na\r\nset k 2 0 2\r\nbb\r\nget k\r\n
=== set-noreply
> set k 0 0 1 noreply\r\nx\r\nget k\r\n
=== set-too-few-tokens
> set k 0 0\r\n
=== set-too-many-tokens
> set k 0 0 1 noreply extra\r\nx\r\n
=== set-negative-length
> set k 0 0 -1\r\n
=== set-nonnumeric-length
> set k 0 0 abc\r\n
=== set-exptime-nonnumeric
> set k 0 abc 1\r\nx\r\n
=== set-exptime-float
> set k 0 1.5 1\r\nx\r\n
=== set-key-250
> set {k*250} 0 0 1\r\nx\r\nget {k*250}\r\n
=== set-key-251
# the key is refused and the data line is then read as a command
> set {k*251} 0 0 1\r\nx\r\n
=== set-key-with-control-chars
> set a\x01b 0 0 1\r\nx\r\nget a\x01b\r\n
=== set-key-with-tab
# a tab is not a separator: it is part of the key
> set a\tb 0 0 1\r\nx\r\nget a\tb\r\nget a\r\n
=== set-bad-data-chunk-long
> set k 0 0 3\r\nabcde\r\nget k\r\n
=== set-bad-data-chunk-short
> set k 0 0 5\r\nabc\r\n
> \r\nget k\r\n
=== set-bad-data-chunk-lf-only
# a data block must end in \r\n, not \n
> set k 0 0 3\r\nabc\nxget k\r\n
=== set-bad-data-chunk-noreply
> set k 0 0 3 noreply\r\nabcde\r\n
=== set-bad-chunk-keeps-old-value
> set k 0 0 1\r\na\r\nset k 0 0 1\r\nbcd\r\nget k\r\n
=== add-new
> add k 0 0 1\r\nx\r\nget k\r\n
=== add-existing
> set k 0 0 1\r\nx\r\nadd k 0 0 1\r\ny\r\nget k\r\n
=== add-noreply
> add k 0 0 1 noreply\r\nx\r\nadd k 0 0 1 noreply\r\ny\r\nget k\r\n
=== replace-missing
> replace k 0 0 1\r\nx\r\nget k\r\n
=== replace-existing
> set k 0 0 1\r\nx\r\nreplace k 3 0 1\r\ny\r\nget k\r\n
=== append-missing
> append k 0 0 1\r\nx\r\n
=== append-existing-keeps-flags
> set k 5 0 1\r\na\r\nappend k 9 0 2\r\nbc\r\nget k\r\n
=== prepend-existing
> set k 5 0 1\r\na\r\nprepend k 9 0 2\r\nbc\r\nget k\r\n
=== prepend-missing
> prepend k 0 0 1\r\nx\r\n
=== append-noreply
> set k 0 0 1\r\na\r\nappend k 0 0 1 noreply\r\nb\r\nget k\r\n
=== append-changes-cas
> set k 0 0 1\r\na\r\ngets k\r\nappend k 0 0 1\r\nb\r\ngets k\r\n
=== cas-missing
> cas k 0 0 1 1\r\nx\r\n
=== cas-match
> set k 0 0 1\r\na\r\ngets k\r\ncas k 0 0 1 1\r\nb\r\nget k\r\n
=== cas-mismatch
> set k 0 0 1\r\na\r\ncas k 0 0 1 999\r\nb\r\nget k\r\n
=== cas-noreply
> set k 0 0 1\r\na\r\ncas k 0 0 1 1 noreply\r\nb\r\ncas k 0 0 1 1 noreply\r\nc\r\nget k\r\n
=== cas-bad-unique
> cas k 0 0 1 abc\r\nx\r\n
=== cas-negative-unique
> cas k 0 0 1 -1\r\nx\r\n
=== cas-without-unique
# memcached 1.6.45 refuses it as a format error and swallows the data block
> cas k 0 0 5\r\nhello\r\n
=== cas-after-other-client-set
> set k 0 0 1\r\na\r\ngets k\r\n
@b > set k 0 0 1\r\nb\r\n
> cas k 0 0 1 1\r\nc\r\nget k\r\n
=== cas-values-increase
> set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nset a 0 0 1\r\n3\r\ngets a b\r\n
=== set-exptime-negative
> set k 0 -1 1\r\nx\r\nget k\r\n
=== set-exptime-negative-removes-old
> set k 0 0 1\r\nx\r\nset k 0 -1 1\r\ny\r\nget k\r\nadd k 0 0 1\r\nz\r\nget k\r\n
=== set-exptime-relative-expires
> set k 0 1 1\r\nx\r\nget k\r\n
sleep 2100
> get k\r\n
=== set-exptime-absolute-past
> set k 0 1000000000 1\r\nx\r\nget k\r\n
=== set-exptime-absolute-future
> set k 0 4000000000 1\r\nx\r\nget k\r\n
=== set-exptime-30-days-is-relative
> set k 0 2592000 1\r\nx\r\nget k\r\n
=== set-exptime-just-over-30-days-is-absolute-past
> set k 0 2592001 1\r\nx\r\nget k\r\n
=== set-exptime-wraps-int32
# exptime is read as a 64-bit number and stored in 32 bits
> set k 0 4294967296 1\r\nx\r\nget k\r\n
=== set-many-in-one-packet
> set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nset c 0 0 1\r\n3\r\nget a b c\r\n
=== append-to-number-then-incr
> set k 0 0 1\r\n1\r\nappend k 0 0 1\r\n2\r\nincr k 1\r\n
=== cas-after-touch
> set k 0 0 1\r\na\r\ngets k\r\ntouch k 100\r\ncas k 0 0 1 1\r\nb\r\nget k\r\n
=== append-to-expired
> set k 0 -1 1\r\na\r\nappend k 0 0 1\r\nb\r\n
=== replace-keeps-new-flags
> set k 1 0 1\r\na\r\nreplace k 2 0 1\r\nb\r\nget k\r\n
=== set-noreply-then-error
> set k 0 0 1 noreply\r\nab\r\nversion\r\n
=== add-after-delete
> set k 0 0 1\r\na\r\ndelete k\r\nadd k 0 0 1\r\nb\r\nget k\r\n
=== failed-stores-spend-cas-values
# memcached takes a CAS value before it tries to store: NOT_STORED, EXISTS and NOT_FOUND
# spend one too, as the next gets shows
> set a 0 0 1\r\n1\r\nadd a 0 0 1\r\n2\r\nreplace b 0 0 1\r\n2\r\ncas a 0 0 1 99\r\n2\r\ncas b 0 0 1 1\r\n2\r\nappend b 0 0 1\r\n2\r\nset c 0 0 1\r\n3\r\ngets a c\r\n
=== failed-meta-stores-spend-cas-values
> ms a 1\r\n1\r\nms a 1 ME\r\n2\r\nms b 1 MR\r\n2\r\nms a 1 C99\r\n2\r\nms b 1 E500 ME\r\n3\r\nms c 1\r\n3\r\nmg a c\r\nmg c c\r\nmg b c\r\n

=== refused-meta-sets-spend-cas-values
# an ms refused after memcached allocated its item (bad data chunk, opaque too long) has
# drawn a CAS value; with E it has not; a classic set with a bad data chunk has not either
> ms a 1\r\nxyz\r\n
> ms b 1 c\r\ny\r\n
> ms a 1 E50\r\nxyz\r\n
> ms c 1 c\r\ny\r\n
> set a 0 0 1\r\nxyz\r\n
> ms d 1 c\r\ny\r\n
> ms e 1 O{x*40}\r\ny\r\n
> ms f 1 c\r\ny\r\n
> ms e 1 E70 O{x*40}\r\ny\r\n
> ms g 1 c\r\ny\r\n
