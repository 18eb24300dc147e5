=== get-missing
> get nope\r\n
=== get-no-key
> get\r\n
=== get-no-key-trailing-space
> get \r\n
=== get-many-keys
> set a 0 0 1\r\n1\r\nset c 0 0 1\r\n3\r\nget a b c d\r\n
=== get-duplicate-keys
> set a 0 0 1\r\n1\r\nget a a a\r\n
=== get-100-keys
> set k50 0 0 2\r\nxx\r\nget k0 k1 k2 k3 k4 k5 k6 k7 k8 k9 k10 k11 k12 k13 k14 k15 k16 k17 k18 k19 k20 k21 k22 k23 k24 k25 k26 k27 k28 k29 k30 k31 k32 k33 k34 k35 k36 k37 k38 k39 k40 k41 k42 k43 k44 k45 k46 k47 k48 k49 k50 k51 k52 k53 k54 k55 k56 k57 k58 k59 k60 k61 k62 k63 k64 k65 k66 k67 k68 k69 k70 k71 k72 k73 k74 k75 k76 k77 k78 k79 k80 k81 k82 k83 k84 k85 k86 k87 k88 k89 k90 k91 k92 k93 k94 k95 k96 k97 k98 k99\r\n
=== get-key-251
known-difference: long-key-drops-replies
replace: CLIENT_ERROR bad command line format\r\n\r\n => CLIENT_ERROR bad command line format\r\n
> get {k*251}\r\n
=== get-second-key-251
# the keys before the long one are looked up, but the command answers only the error
known-difference: long-key-drops-replies
replace: CLIENT_ERROR bad command line format\r\n\r\n => STORED\r\nCLIENT_ERROR bad command line format\r\n
> set a 0 0 1\r\n1\r\nget a {k*251}\r\n
=== get-key-251-drops-pipelined-replies
# memcached drops the replies it has not yet sent in the same read; ferrocache keeps them
known-difference: long-key-drops-replies
replace: CLIENT_ERROR bad command line format\r\n\r\n => STORED\r\nCLIENT_ERROR bad command line format\r\n
> set a 0 0 1\r\n1\r\nget a {k*251}\r\nget a\r\n
=== get-multiple-spaces
> set a 0 0 1\r\n1\r\nget   a    a\r\n
=== gets-shows-cas
> set a 0 0 1\r\n1\r\ngets a\r\n
=== gets-many
> set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\ngets a b z\r\n
=== gat-hit
> set a 0 0 1\r\n1\r\ngat 100 a\r\n
=== gats-hit
> set a 0 0 1\r\n1\r\ngats 100 a\r\n
=== gat-miss
> gat 100 a\r\n
=== gat-no-key
> gat 100\r\n
=== gat-no-args
> gat\r\n
=== gat-bad-exptime
> gat abc a\r\n
=== gat-negative-expires
> set a 0 0 1\r\n1\r\ngat -1 a\r\nget a\r\n
=== gat-extends-expiry
> set a 0 1 1\r\n1\r\ngat 100 a\r\n
sleep 2100
> get a\r\n
=== gat-many-keys
> set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\ngat 0 a b c\r\n
=== gat-does-not-change-cas
> set a 0 0 1\r\n1\r\ngets a\r\ngats 100 a\r\n
=== bget-is-get
> set a 0 0 1\r\n1\r\nbget a\r\n
=== get-uppercase-is-unknown
> GET a\r\n
=== get-value-1mb
> set big 0 0 1048000\r\n{x*1048000}\r\nget big\r\n
