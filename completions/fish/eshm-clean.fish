# eshm-clean.fish - fish completion for eshm-clean: fish loads a file by command name.
# Options as eshm-clean --help lists them (the Bats tests compare the two),
# and for each NAME the live segments, /dev/shm/eshm_NAME, as in bash and zsh.
# Each file stands alone, so that it also works copied by itself.

# __eshm_clean_names: the live segments
function __eshm_clean_names
    # set, not a command: no segment is no error
    set -l paths /dev/shm/eshm_*
    string replace -rf -- '^/dev/shm/eshm_(.+)$' '$1' $paths
end

complete -c eshm-clean -f
complete -c eshm-clean -a '(__eshm_clean_names)' -d segment

complete -c eshm-clean -l older-than -x -a '10m 1h 24h' -d 'also remove idle ones with undelivered data or --keep'
complete -c eshm-clean -l force -d 'remove the named segments whatever they hold'
complete -c eshm-clean -l group -x -d 'remove this consumer group from the named segments'
complete -c eshm-clean -s n -l dry-run -d 'say what would be removed, remove nothing'
complete -c eshm-clean -s v -l verbose -d 'also say what is kept, and why'
complete -c eshm-clean -s q -l quiet -d 'no warnings, errors only'
complete -c eshm-clean -s h -l help -d 'show the help and exit'
complete -c eshm-clean -s V -l version -d 'show the version and exit'
