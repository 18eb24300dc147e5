=== unknown-command
> bogus\r\n
=== empty-line
> \r\n
=== lone-newline
> \n
=== one-char-command
> g\r\n
=== two-spaces-only
> \s\s\r\n
=== unknown-g-command
> gogo a\r\n
=== unknown-s-command
> sett a 0 0 1\r\n
=== unknown-m-command
> mz a\r\n
=== leading-spaces
> set a 0 0 1\r\n1\r\n   get a\r\n
=== trailing-spaces
> set a 0 0 1\r\n1\r\nget a   \r\n
=== cr-in-middle-of-token
> set a 0 0 1\r\n1\r\nget a\rb\r\n
=== cr-cr-lf
> set a 0 0 1\r\r\n1\r\nget a\r\n
=== nul-ends-line
> set a 0 0 1\r\n1\r\nget a\x00junk\r\n
=== error-then-recover
> bogus\r\nset a 0 0 1\r\n1\r\nget a\r\n
=== many-errors
> a\r\nb\r\nc\r\nd\r\n
=== twenty-four-tokens
> set a b c d e f g h i j k l m n o p q r s t u v w x\r\n
=== http-get
> GET / HTTP/1.1\r\nHost: x\r\n\r\n
=== http-post
> POST /x HTTP/1.0\r\n
=== http-after-command
# memcached closes without sending the reply it still held; ferrocache sends it first
known-difference: close-drops-replies
replace: <closed>\n => VERSION 1.6.45\r\n<closed>\n
> version\r\nHEAD / HTTP/1.1\r\n
=== lowercase-get-with-http
> get / HTTP/1.1\r\n
=== unknown-command-with-http-in-middle
> foo HTTP/1.1 bar\r\n
=== tab-separated
> set\ta 0 0 1\r\n
=== incr-uppercase
> INCR a 1\r\n
=== set-with-noreply-error-then-data
> set k 0 0 x noreply\r\nhello\r\n
