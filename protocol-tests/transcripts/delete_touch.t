=== delete-hit
> set k 0 0 1\r\nx\r\ndelete k\r\nget k\r\n
=== delete-miss
> delete k\r\n
=== delete-noreply
> set k 0 0 1\r\nx\r\ndelete k noreply\r\nget k\r\n
=== delete-zero
> set k 0 0 1\r\nx\r\ndelete k 0\r\n
=== delete-zero-noreply
> set k 0 0 1\r\nx\r\ndelete k 0 noreply\r\nget k\r\n
=== delete-extra-token
> set k 0 0 1\r\nx\r\ndelete k 5\r\n
=== delete-no-key
> delete\r\n
=== delete-too-many
> delete a b c d\r\n
=== delete-key-251
> delete {k*251}\r\n
=== delete-twice
> set k 0 0 1\r\nx\r\ndelete k\r\ndelete k\r\n
=== touch-hit
> set k 0 0 1\r\nx\r\ntouch k 100\r\nget k\r\n
=== touch-miss
> touch k 100\r\n
=== touch-noreply
> set k 0 0 1\r\nx\r\ntouch k 100 noreply\r\nget k\r\n
=== touch-bad-exptime
> touch k abc\r\n
=== touch-too-few
> touch k\r\n
=== touch-negative-expires
> set k 0 0 1\r\nx\r\ntouch k -1\r\nget k\r\n
=== touch-extends
> set k 0 1 1\r\nx\r\ntouch k 100\r\n
sleep 2100
> get k\r\n
=== touch-keeps-cas
> set k 0 0 1\r\nx\r\ngets k\r\ntouch k 10\r\ngets k\r\n
=== delete-key-named-noreply
> set noreply 0 0 1\r\nx\r\ndelete noreply\r\ndelete noreply\r\n
=== touch-key-named-noreply
> set noreply 0 0 1\r\nx\r\ntouch noreply 10\r\n
=== incr-key-named-noreply
> set noreply 0 0 1\r\n1\r\nincr noreply 1\r\n
