# eshm-recv.fish - fish completion for eshm-recv: fish loads a file by command name.
# Options as eshm-recv --help lists them (the Bats tests compare the two),
# and for NAME the live segments, /dev/shm/eshm_NAME, as in bash and zsh.
# Each file stands alone, so that it also works copied by itself.

# __eshm_recv_names: the live segments, while no NAME is given yet. argparse
# reads the words before the cursor as getopt_long will, so that an
# option's value (-n 5) is not taken for NAME.
function __eshm_recv_names
    set -l words (commandline -opc)
    if argparse -i lines 0/null raw timestamps n/count= t/timeout= f/follow \
            u/unbuffered group= tap peek exec= j/jobs= attempts= c/capacity= \
            mode= shm-group= keep no-create retries= role= exclusive takeover \
            heartbeat= stale= p/progress v/verbose q/quiet h/help V/version \
            -- $words[2..-1] 2>/dev/null
        # an unknown option is no NAME either (and a NAME never starts with -)
        string match -qv -- '-*' $argv
        and return
    end
    # set, not a command: no segment is no error
    set -l paths /dev/shm/eshm_*
    string replace -rf -- '^/dev/shm/eshm_(.+)$' '$1' $paths
end

complete -c eshm-recv -f
complete -c eshm-recv -a '(__eshm_recv_names)' -d segment

complete -c eshm-recv -l lines -d 'a newline after each message'
complete -c eshm-recv -s 0 -l null -d 'a NUL after each message'
complete -c eshm-recv -l raw -d 'nothing between messages'
complete -c eshm-recv -l timestamps -d 'write a recording: each message with its time'

complete -c eshm-recv -s n -l count -x -d 'exit after N messages, leaving the rest'
complete -c eshm-recv -s t -l timeout -x -a '100ms 1s 5s 1m' -d 'exit 124 when nothing arrives for that long'
complete -c eshm-recv -s f -l follow -d 'go on across end-of-stream marks and writers'
complete -c eshm-recv -s u -l unbuffered -d 'write and release one message at a time'
complete -c eshm-recv -l group -x -d 'read in this consumer group'

complete -c eshm-recv -l tap -d 'print messages as they pass, taking none'
complete -c eshm-recv -l peek -d 'print the messages pending, taking none, and exit'

complete -c eshm-recv -l exec -x -a '(__fish_complete_command)' -d 'run sh -c CMD for each message'
complete -c eshm-recv -s j -l jobs -x -a '1 2 4 8' -d 'run up to N commands at once'
complete -c eshm-recv -l attempts -x -a '1 3 5' -d 'tries of a failing message before NAME.failed'

complete -c eshm-recv -s c -l capacity -x -a '64K 1M 16M 256M' -d 'bytes per channel when creating'
complete -c eshm-recv -l mode -x -a '0600 0640 0660 0666' -d 'permissions when creating'
complete -c eshm-recv -l shm-group -x -a '(__fish_complete_groups)' -d 'group when creating, and required'
complete -c eshm-recv -l keep -d 'never remove the segment automatically'
complete -c eshm-recv -l no-create -d 'wait for the segment instead of creating it'
complete -c eshm-recv -l retries -x -d 'tries of --no-create, and waits for a new writer'
complete -c eshm-recv -l role -x -a 'master slave' -d 'slave (read m2s, the default) or master'
complete -c eshm-recv -l exclusive -d 'be the only reader of the channel'
complete -c eshm-recv -l takeover -d 'take the place of a stale reader of the group'
complete -c eshm-recv -l heartbeat -x -a '100ms 1s 5s 1m' -d 'heartbeat period'
complete -c eshm-recv -l stale -x -a '100ms 1s 5s 1m' -d 'heartbeat age reported as stale'

complete -c eshm-recv -s p -l progress -d 'show bytes, messages and rate on stderr'
complete -c eshm-recv -s v -l verbose -d 'say what happens on stderr'
complete -c eshm-recv -s q -l quiet -d 'no warnings, errors only'
complete -c eshm-recv -s h -l help -d 'show the help and exit'
complete -c eshm-recv -s V -l version -d 'show the version and exit'
