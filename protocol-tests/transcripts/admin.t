# slabs automove, slabs reassign, lru tune|mode|temp_ttl: every answer memcached 1.6.45 gives,
# and the settings they change as `stats settings` shows them.
=== admin-defaults
> stats settings\r\n
=== automove-levels
> slabs automove 0\r\nstats settings\r\n
> slabs automove 2\r\n
> slabs a 1\r\n
> stats settings\r\n
=== automove-refusals
> slabs automove 3\r\n
> slabs automove -1\r\n
> slabs automove invalid\r\n
> slabs automove\r\n
> slabs\r\n
> slabs bogus 1\r\n
> slabs automove 3 noreply\r\nversion\r\n
> slabs automove 0 noreply\r\nstats settings\r\n
=== automove-ratios
> slabs automove ratio 0.5\r\n
> slabs automove freeratio 0.0125\r\n
> stats settings\r\n
> slabs automove r 1e3\r\n
> slabs automove f -0.25\r\n
> stats settings\r\n
> slabs automove ratio nan\r\n
> slabs automove freeratio -inf\r\n
> stats settings\r\n
=== automove-ratio-refusals
> slabs automove ratio\r\n
> slabs automove ratio x\r\n
> slabs automove ratio 0.5x\r\n
> slabs automove freeratio 1e400\r\n
> slabs automove ratio 0.{5*40}\r\n
> stats settings\r\n
=== automove-window
> slabs automove window 3\r\n
> slabs automove window 1800\r\nstats settings\r\n
> slabs automove window 2\r\n
> slabs automove window 1801\r\n
> slabs automove window x\r\n
> slabs automove window\r\n
> slabs automove w 30\r\nstats settings\r\n
=== automove-start-up
flags: -o slab_automove=2,slab_automove_ratio=0.25,slab_automove_window=100,slab_automove_freeratio=0.5
> stats settings\r\n
> slabs automove 0\r\nstats settings\r\n
=== automove-start-up-bare
flags: -o slab_automove_window=3,no_slab_automove
> stats settings\r\n
=== reassign-no-spare-page
> slabs reassign 1 2\r\n
> slabs reassign 0 1\r\n
> slabs reassign 1 0\r\n
> slabs reassign 2 39\r\n
> slabs r 5 6\r\n
=== reassign-with-items
# memcached has a page in class 1 now, still no spare one
> set a 0 0 1\r\n1\r\n
> slabs reassign 1 2\r\n
> slabs reassign 2 1\r\n
=== reassign-same
> slabs reassign 1 1\r\n
> slabs reassign 99 99\r\n
> slabs reassign -1 -1\r\n
=== reassign-bad-class
> slabs reassign -1 2\r\n
> slabs reassign 1 40\r\n
> slabs reassign 40 1\r\n
> slabs reassign 1 64\r\n
> slabs reassign 1 -2\r\n
> slabs reassign 2147483647 1\r\n
=== reassign-class-table-follows-flags
flags: -f 2 -n 100
> slabs reassign 1 10\r\n
> slabs reassign 1 11\r\n
> slabs reassign 1 12\r\n
=== reassign-class-table-slab-sizes
flags: -o slab_sizes=100-200-300
> slabs reassign 1 3\r\n
> slabs reassign 1 4\r\n
> slabs reassign 1 5\r\n
=== reassign-bad-format
> slabs reassign x 2\r\n
> slabs reassign 1 +2\r\n
> slabs reassign 1 2x\r\n
> slabs reassign 1 99999999999\r\n
> slabs reassign 1 noreply\r\nversion\r\n
=== reassign-token-count
> slabs reassign 1\r\n
> slabs reassign 1 2 3\r\n
> slabs reassign 1 2 noreply\r\nversion\r\n
> slabs reassign\r\n
=== reassign-disabled
flags: -o no_slab_reassign
> slabs reassign 1 2\r\n
> slabs reassign x y\r\n
> stats settings\r\n
=== reassign-disabled-no-modern
flags: -o no_modern
> slabs reassign 1 1\r\n
> lru mode flat\r\n
=== lru-tune
> lru tune 10 40 0.1 2\r\nstats settings\r\n
> lru t 1 79 3.5 0.125\r\nstats settings\r\n
> lru tune 0 0 1e300 nan\r\nstats settings\r\n
> lru tune 4294967295 40 0.5 0.5\r\nstats settings\r\n
=== lru-tune-refusals
> lru tune 50 40 0.1 2\r\n
> lru tune 41 40 0.1 2\r\n
> lru tune 10 40 0 2\r\n
> lru tune 10 40 0.1 -2\r\n
> lru tune 10 40 -0 2\r\n
> lru tune 10 40 0.1\r\n
> lru tune x 40 0.1 2\r\n
> lru tune -1 40 0.1 2\r\n
> lru tune 10 40 1e400 2\r\n
> lru tune 10 40 0.1 2x\r\n
> lru tune 50 40 0.1 2 noreply\r\nversion\r\n
> stats settings\r\n
=== lru-mode
> lru mode flat\r\nstats settings\r\n
> lru mode segmented\r\nstats settings\r\n
> lru mode f\r\n
> lru m seg\r\nstats settings\r\n
> lru mode bogus\r\n
> lru mode\r\n
> lru mode flatter\r\n
=== lru-temp-ttl
> lru temp_ttl 30\r\nstats settings\r\n
> lru temp_ttl -1\r\nstats settings\r\n
> lru t 0\r\nstats settings\r\n
> lru temp_ttl x\r\n
> lru temp_ttl 2147483648\r\n
> lru temp_ttl\r\n
=== lru-refusals
> lru\r\n
> lru bogus\r\n
> lru bogus noreply\r\nversion\r\n
> lru tune 10 40 0.1 2 noreply\r\nstats settings\r\n
=== lru-without-maintainer
flags: -o no_lru_maintainer
> stats settings\r\n
> lru mode flat\r\n
> lru temp_ttl 30\r\n
> lru mode bogus\r\n
> lru tune 10 40 0.1 2\r\n
> stats settings\r\n
=== lru-start-up
flags: -o hot_lru_pct=30,warm_lru_pct=50,hot_max_factor=0.5,warm_max_factor=4,temporary_ttl=100
> stats settings\r\n
> lru temp_ttl -5\r\nstats settings\r\n
=== lru-start-up-maintainer
flags: -o no_lru_maintainer,lru_maintainer,temporary_ttl=-3
> stats settings\r\n
