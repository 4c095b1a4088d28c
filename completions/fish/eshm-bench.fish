# eshm-bench.fish - fish completion for eshm-bench: fish loads a file by command name.
# Options as eshm-bench --help lists them (the Bats tests compare the two);
# it takes no operand, so nothing is offered but options and their values.
# Its -c is --case, not --capacity as in eshm-send and eshm-recv.

complete -c eshm-bench -f

complete -c eshm-bench -s c -l case -x -a 'throughput latency idle all' -d 'what to measure'
complete -c eshm-bench -s s -l sizes -x -a '64,1K,64K 64 1K 4K 64K 1M' -d 'message sizes'
complete -c eshm-bench -s d -l duration -x -a '100ms 1s 5s' -d 'per case, size and transport'
complete -c eshm-bench -s r -l repeat -x -d 'runs of each, interleaved; the median is shown'
complete -c eshm-bench -l compare -d 'also pipe, Unix socket, POSIX message queue and futex'
complete -c eshm-bench -l cpus -x -a '0,1 0,0' -d 'pin the two processes'
complete -c eshm-bench -l spin -x -a '-1 0 10 50' -d "eshm's spin before sleeping, in us"
complete -c eshm-bench -l capacity -x -a '64K 1M 16M' -d 'eshm ring per channel'
complete -c eshm-bench -l writers -x -a '1 2 4 8 64' -d 'throughput from N writers into one reader'
complete -c eshm-bench -l readers -x -a '1 2 4 8 64' -d 'throughput from one writer to N readers'
complete -c eshm-bench -l groups -x -a '1 2 4 16' -d 'put the readers in G consumer groups'
complete -c eshm-bench -s j -l json -d 'one JSON document'
complete -c eshm-bench -s h -l help -d 'show the help and exit'
complete -c eshm-bench -s V -l version -d 'show the version and exit'
