=== lru-crawler-errors
# every refusal of process_lru_crawler_command, subcommands read as prefixes
> lru_crawler\r\n
> lru_crawler crawl\r\n
> lru_crawler crawl all extra\r\n
> lru_crawler crawlx all\r\n
> lru_crawler bogus\r\n
> lru_crawler enable now\r\n
sleep 50
> lru_crawler metadump\r\n
> lru_crawler crawl 0\r\n
> lru_crawler crawl 64\r\n
> lru_crawler crawl 1,x\r\n
> lru_crawler crawl -1\r\n
sleep 50
> lru_crawler metadump 0\r\n
sleep 50
> lru_crawler mgdump 99\r\n
> lru_crawler crawl hash\r\n
> lru_crawler crawl ,\r\n
> lru_crawler tocrawl x\r\n
> lru_crawler tocrawl -1\r\n
> lru_crawler tocrawl +5\r\n
> lru_crawler tocrawl 4294967296\r\n
> lru_crawler sleep x\r\n
> lru_crawler sleep 1000001\r\n
> lru_crawler enable\r\n
> lru_crawler e\r\n
=== lru-crawler-noreply
# noreply takes the argument's place: every answer is hidden, even the refusals
> lru_crawler crawl all noreply\r\n
> lru_crawler crawl noreply\r\n
> lru_crawler tocrawl noreply\r\n
> lru_crawler enable noreply\r\nversion\r\n
=== lru-crawler-settings
> lru_crawler tocrawl 5\r\n
> lru_crawler sleep 1000000\r\n
> lru_crawler  sleep  250\r\n
> lru_crawler t 0\r\n
> lru_crawler tocrawl 4294967295\r\n
> stats settings\r\n
=== lru-crawler-crawl-classes
# crawls answer OK at once and run in the background; one at a time, so each waits
> lru_crawler crawl all\r\n
sleep 300
> lru_crawler crawl 1,2\r\n
sleep 300
> lru_crawler crawl 63\r\n
sleep 300
> lru_crawler crawl ,1\r\n
sleep 300
> lru_crawler crawl 1,\r\n
sleep 300
> lru_crawler c 4294967297\r\n
sleep 300
> stats\r\n
=== lru-crawler-crawl-counts-checked-items
> set a 0 0 1\r\n1\r\nset b 0 100 1\r\n2\r\nset c 0 0 300\r\n{x*300}\r\n
> lru_crawler crawl all\r\n
sleep 300
> lru_crawler crawl 1\r\n
sleep 300
> stats\r\n
=== lru-crawler-disable-enable
> lru_crawler disable\r\n
> lru_crawler crawl all\r\n
sleep 50
> lru_crawler metadump all\r\n
sleep 50
> lru_crawler mgdump all\r\n
> lru_crawler disable\r\n
> stats\r\n
> stats settings\r\n
> lru_crawler enable\r\n
> lru_crawler crawl all\r\n
sleep 300
> stats\r\n
=== lru-crawler-off-at-start
flags: -o no_lru_crawler
> lru_crawler crawl all\r\n
sleep 50
> lru_crawler metadump all\r\n
> stats settings\r\n
> lru_crawler enable\r\n
> lru_crawler crawl all\r\n
=== lru-crawler-start-up-settings
flags: -o lru_crawler_sleep=50,lru_crawler_tocrawl=9
> stats settings\r\n
=== lru-crawler-dumps-refused-with-X
flags: -X
> lru_crawler metadump all\r\n
sleep 50
> lru_crawler mgdump all\r\n
sleep 50
> lru_crawler metadump 0\r\n
> lru_crawler crawl all\r\n
=== lru-crawler-metadump-empty
# memcached refuses a dump after other requests of the same read (ERROR cannot pipeline
# other commands before metadump), so every dump here is sent on its own (after a sleep)
> lru_crawler metadump all\r\n
sleep 50
> lru_crawler mgdump all\r\n
sleep 50
> lru_crawler metadump hash\r\n
sleep 50
> lru_crawler mgdump 5\r\n
=== lru-crawler-metadump-items
# URL-encoded keys, flags, sizes, fetched marks; expired items left out
> set a 0 0 1\r\nx\r\n
> set b\xff%20 5 100 2\r\nxy\r\n
> ms Zm9v 2 b\r\nhi\r\n
> set gone 0 -1 1\r\nx\r\n
> get a\r\n
sleep 50
> lru_crawler metadump all\r\n
sleep 50
> lru_crawler mgdump 1\r\n
sleep 50
> lru_crawler metadump 1,2\r\n
=== lru-crawler-dump-one-item-by-hash
> set k:1 3 0 5\r\nhello\r\n
sleep 50
> lru_crawler metadump hash\r\n
sleep 50
> lru_crawler mgdump hash\r\n
> stats\r\n
=== lru-crawler-dump-classes
# an item in class 1 and one in class 6: a class list names which
> set small 0 0 1\r\nx\r\n
> set large 0 0 200\r\n{y*200}\r\n
sleep 50
> lru_crawler mgdump 6\r\n
sleep 50
> lru_crawler metadump 6\r\n
sleep 50
> lru_crawler mgdump 2,3\r\n
sleep 50
> lru_crawler metadump 1\r\n
> stats\r\n
=== lru-crawler-flush-reclaims
# the items flushed are reclaimed in the background: curr_items is 0 without any read
> set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nset c 0 0 1\r\n3\r\n
> get a\r\n
sleep 2100
> flush_all\r\n
sleep 1500
> stats\r\n
=== lru-crawler-expiry-reclaims
# an expired item is reclaimed without a read too
> set a 0 1 1\r\n1\r\nset b 0 0 1\r\n2\r\n
sleep 3500
> stats\r\n
=== lru-crawler-metadump-notstarted
# memcached stays stuck in this state: last
> lru_crawler metadump ,\r\n
