# eshm-stat.fish - fish completion for eshm-stat: fish loads a file by command name.
# Options as eshm-stat --help lists them (the Bats tests compare the two),
# and for each NAME the live segments, /dev/shm/eshm_NAME, as in bash and zsh.
# Each file stands alone, so that it also works copied by itself.

# __eshm_stat_names: the live segments, unless the cursor is on the count
# of -n. argparse reads the words before the cursor as getopt_long will:
# fish itself cannot tell that in "-wn" the n is the value of -w, so -n
# is not declared to take a value below, and this tells instead.
function __eshm_stat_names
    set -l words (commandline -opc)
    argparse -i j/json 'w/watch=?' n/count= bytes noheadings check brief \
        max-age= max-pending= max-idle= max-fill= openmetrics \
        h/help V/version -- $words[2..-1] 2>/dev/null
    or return
    # set, not a command: no segment is no error
    set -l paths /dev/shm/eshm_*
    string replace -rf -- '^/dev/shm/eshm_(.+)$' '$1' $paths
end

complete -c eshm-stat -f
complete -c eshm-stat -a '(__eshm_stat_names)' -d segment

complete -c eshm-stat -s j -l json -d 'one JSON document on one line'
# Its value is optional, so attached (-w5, --watch=5): in "-w 5" the 5
# is a NAME. Without -x, fish offers values only after "--watch=".
complete -c eshm-stat -s w -l watch -a '1 2 5' -d 'refresh every SECONDS (default 1), with rates'
complete -c eshm-stat -s n -l count -d 'with --watch: stop after N refreshes'
complete -c eshm-stat -l bytes -d 'exact byte counts instead of human units'
complete -c eshm-stat -l noheadings -d 'no heading line'
complete -c eshm-stat -l check -d 'one line per problem; exit 1 if any'
complete -c eshm-stat -l max-age -x -a '1m 5m 1h' -d "--check: a group's oldest message waited longer"
complete -c eshm-stat -l max-pending -x -a '1000 10000 1M' -d '--check: more messages (N) or bytes (SIZE) waiting'
complete -c eshm-stat -l max-idle -x -a '1m 5m 1h' -d '--check: messages waited, none released, longer'
complete -c eshm-stat -l max-fill -x -a '80 90' -d '--check: a ring more than PCT percent full'
complete -c eshm-stat -l brief -d 'one line for segment NAME'
complete -c eshm-stat -l openmetrics -d 'gauges and counters in the Prometheus text format'
complete -c eshm-stat -s h -l help -d 'show the help and exit'
complete -c eshm-stat -s V -l version -d 'show the version and exit'
