=== version
> version\r\n
=== version-extra-token
> version now\r\n
=== verbosity
> verbosity 1\r\n
=== verbosity-noreply
> verbosity 1 noreply\r\nversion\r\n
=== verbosity-missing
> verbosity\r\n
=== verbosity-bad
> verbosity abc\r\n
=== verbosity-too-many
> verbosity 1 2 3\r\n
=== quit
> quit\r\n
=== quit-after-pipelined
> set a 0 0 1\r\n1\r\nget a\r\nquit\r\nget a\r\n
=== shutdown-not-enabled
> shutdown\r\n
=== shutdown-enabled
flags: -A
> shutdown\r\n
=== shutdown-bad-mode
flags: -A
> shutdown now\r\n
=== cache-memlimit
> cache_memlimit 100\r\n
=== cache-memlimit-too-small
> cache_memlimit 7\r\n
=== cache-memlimit-bytes
> cache_memlimit 1000000001\r\n
=== cache-memlimit-bad
> cache_memlimit abc\r\n
=== cache-memlimit-noreply
> cache_memlimit 100 noreply\r\nversion\r\n
=== cache-memlimit-missing
> cache_memlimit\r\n
=== cache-memlimit-shows-in-stats
> cache_memlimit 100\r\nstats settings\r\n
=== mn
> mn\r\n
=== verbosity-shows-in-stats-settings
> verbosity 1\r\nstats settings\r\n
=== verbosity-large-clamped
> verbosity 99\r\nstats settings\r\n
=== debugtime-is-not-a-release-command
# memcached's debug build moves its clock with it; ferrocache only with -o debug_clock
> debugtime 10\r\ndebugtime p\r\ndebugtime 1 noreply\r\nversion\r\n
