# Shared by the benchmark scripts: reading figures out of bench_read's result lines.
# shellcheck shell=bash

# field NAME: the number after NAME= in each line of standard input
field() { sed -n "s|.*$1= *\([0-9.]*\).*|\1|p"; }
# median: of the numbers on standard input, one a line
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
