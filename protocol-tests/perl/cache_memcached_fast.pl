#!/usr/bin/perl
# Cache::Memcached::Fast (Debian's libcache-memcached-fast-perl) against CACHE_SERVER.
# Prints "N passed, M failed" and exits non-zero on any failure.
use strict;
use warnings;
use Cache::Memcached::Fast;

my $server = $ENV{CACHE_SERVER} or die "set CACHE_SERVER=host:port\n";
my $mc = Cache::Memcached::Fast->new({ servers => [$server], namespace => "perl$$:" });
my ($pass, $fail) = (0, 0);
sub check { my ($ok, $what) = @_; if ($ok) { $pass++ } else { $fail++; print "FAIL: $what\n" } }

check($mc->set("k", "value"), "set");
check(($mc->get("k") // "") eq "value", "get");
check(!$mc->add("k", "other"), "add of an existing key fails");
check($mc->add("new", "v"), "add of a new key");
check(!$mc->replace("missing", "v"), "replace of a missing key fails");
check($mc->append("k", "+"), "append");
check($mc->prepend("k", "-"), "prepend");
check(($mc->get("k") // "") eq "-value+", "append and prepend");
my $gets = $mc->gets("k");
check($gets && $mc->cas("k", @$gets[0], "swapped"), "gets then cas");
check(!$mc->cas("k", @$gets[0], "again"), "stale cas fails");
$mc->set("n", 41);
check(($mc->incr("n") // -1) == 42, "incr");
check(($mc->decr("n", 100) // -1) == 0, "decr stops at 0");
my $multi = $mc->get_multi("k", "n", "nope");
check(keys(%$multi) == 2 && $multi->{k} eq "swapped", "get_multi");
my $big = "x" x 500_000;
check($mc->set("big", $big), "set 500 KB");
check(($mc->get("big") // "") eq $big, "get 500 KB");
check($mc->touch("k", 100), "touch");
check($mc->delete("k"), "delete");
check(!defined $mc->get("k"), "deleted key is gone");
my $versions = $mc->server_versions;
check(($versions->{$server} // "") =~ /^1\.6\./, "server_versions");
print "$pass passed, $fail failed\n";
exit($fail ? 1 : 0);
