=== bare-lf-commands
> set a 0 0 1\n1\r\nget a\n
=== pipelined-mixed
> set a 0 0 1\r\n1\r\nset b 0 0 2\r\n22\r\nget a b\r\ndelete a\r\nget a\r\nincr b 1\r\nversion\r\n
=== pipelined-100
> {v*0}set a 0 0 1\r\n1\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\n
=== split-bytewise-set
>> set a 0 0 5\r\nhello\r\n
> get a\r\n
=== split-bytewise-get
> set a 0 0 1\r\n1\r\n
>> get a\r\n
=== split-bytewise-gets-many
> set a 0 0 1\r\n1\r\n
>> gets a b a\r\n
=== split-data-in-pieces
> set a 0 0 10\r\n01
> 2345
> 6789\r
> \nget a\r\n
=== split-header-then-data
> set a 0 0 3\r\n
> abc\r\n
> get a\r\n
=== split-crlf
> get a\r
> \n
=== key-250-split
>> set {k*250} 0 0 1\r\nx\r\n
> get {k*250}\r\n
=== long-line-no-newline-closes
> {a*3000}
=== long-line-with-newline
# over 2048 bytes before the newline: closed whether or not the newline came in the same read
known-difference: long-line-closes
replace: ERROR\r\n => <closed>\n
> {a*3000}\r\n
=== long-get-line
> set k1 0 0 1\r\n1\r\n
> get {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} k1\r\n
=== long-get-without-newline-then-rest
> set k1 0 0 1\r\n1\r\n
> get {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200}
> \sk1\r\n
=== long-gets-without-newline
> gets {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200}
> \r\n
=== long-gat-without-newline-closes
> gat 0 {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200}
=== long-line-after-leading-spaces
> {\s*150}get {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200} {k*200}
=== two-connections
> set a 0 0 1\r\n1\r\n
@b > get a\r\n
@b > delete a\r\n
> get a\r\n
=== value-large-in-pieces
> set big 0 0 200000\r\n{x*100000}
> {x*100000}\r\n
> get big\r\n
