# eshm-send.fish - fish completion for eshm-send: fish loads a file by command name.
# Options as eshm-send --help lists them (the Bats tests compare the two),
# and for NAME the live segments, /dev/shm/eshm_NAME, as in bash and zsh.
# Each file stands alone, so that it also works copied by itself.

# __eshm_send_names: the live segments, while no NAME is given yet. argparse
# reads the words before the cursor as getopt_long will, so that an
# option's value (--retries 5) is not taken for NAME.
function __eshm_send_names
    set -l words (commandline -opc)
    if argparse -i lines 0/null raw wait-turn replay speed= c/capacity= mode= \
            shm-group= keep no-create retries= role= exclusive takeover \
            heartbeat= stale= t/timeout= wait p/progress v/verbose q/quiet h/help \
            V/version -- $words[2..-1] 2>/dev/null
        # an unknown option is no NAME either (and a NAME never starts with -)
        string match -qv -- '-*' $argv
        and return
    end
    # set, not a command: no segment is no error
    set -l paths /dev/shm/eshm_*
    string replace -rf -- '^/dev/shm/eshm_(.+)$' '$1' $paths
end

complete -c eshm-send -f
complete -c eshm-send -a '(__eshm_send_names)' -d segment

complete -c eshm-send -l lines -d 'each line is a message (default)'
complete -c eshm-send -s 0 -l null -d 'each NUL-terminated record is a message'
complete -c eshm-send -l raw -d 'a byte stream; chunk boundaries are not kept'
complete -c eshm-send -l wait-turn -d 'with --raw, wait for the other writers to finish'
complete -c eshm-send -l replay -d 'send a recording of eshm-recv --timestamps'
complete -c eshm-send -l speed -x -a '0 1 2 10' -d 'with --replay, this many times as fast'

complete -c eshm-send -s c -l capacity -x -a '64K 1M 16M 256M' -d 'bytes per channel when creating'
complete -c eshm-send -l mode -x -a '0600 0640 0660 0666' -d 'permissions when creating'
complete -c eshm-send -l shm-group -x -a '(__fish_complete_groups)' -d 'group when creating, and required'
complete -c eshm-send -l keep -d 'never remove the segment automatically'
complete -c eshm-send -l no-create -d 'wait for the segment instead of creating it'
complete -c eshm-send -l retries -x -d 'tries of --no-create, 100 ms apart'
complete -c eshm-send -l role -x -a 'master slave' -d 'master (write m2s, the default) or slave'
complete -c eshm-send -l exclusive -d 'be the only writer of the channel'
complete -c eshm-send -l takeover -d 'take the writer end from a stale exclusive holder'
complete -c eshm-send -l heartbeat -x -a '100ms 1s 5s 1m' -d 'heartbeat period'
complete -c eshm-send -l stale -x -a '100ms 1s 5s 1m' -d 'heartbeat age reported as stale'

complete -c eshm-send -s t -l timeout -x -a '100ms 1s 5s 1m' -d 'give up when the channel stays full that long'
complete -c eshm-send -l wait -d 'at the end, wait until the reader took everything'
complete -c eshm-send -s p -l progress -d 'show bytes, messages and rate on stderr'
complete -c eshm-send -s v -l verbose -d 'say what happens on stderr'
complete -c eshm-send -s q -l quiet -d 'no warnings, errors only'
complete -c eshm-send -s h -l help -d 'show the help and exit'
complete -c eshm-send -s V -l version -d 'show the version and exit'
