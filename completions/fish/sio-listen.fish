# fish completion for sio-listen(1). Install as sio-listen.fish in
# ~/.config/fish/completions or /usr/share/fish/vendor_completions.d.
#
# Rooms for --room are asked of the running hub with `sio-rooms list`, on
# the socket and namespace already on the command line (-S/--socket,
# -n/--nsp, else $SIO_SOCKET); with no hub, nothing.

# __sio_listen_live list|sockets: the first column of `sio-rooms list` or
# `sio-rooms sockets`, asked on the socket and namespace already on the
# command line.
function __sio_listen_live
    set -l tokens (commandline -opc)
    set -l sock
    set -l nsp
    set -l i 2
    while test $i -le (count $tokens)
        set -l w $tokens[$i]
        set -l v
        if test $i -lt (count $tokens)
            set v $tokens[(math $i + 1)]
        end
        switch $w
            case -S --socket
                set sock $v
                set i (math $i + 1)
            case -n --nsp
                set nsp $v
                set i (math $i + 1)
            case '--socket=*' '--nsp=*'
                set -l kv (string split -m 1 = -- $w)
                test $kv[1] = --socket; and set sock $kv[2]; or set nsp $kv[2]
            case '-S*'
                set sock (string sub -s 3 -- $w)
            case '-n*'
                set nsp (string sub -s 3 -- $w)
        end
        set i (math $i + 1)
    end
    set -l cmd sio-rooms
    command -sq timeout; and set cmd timeout 2 sio-rooms
    test -n "$sock"; and set -a cmd -S (string replace -r '^~/' "$HOME/" -- $sock)
    test -n "$nsp"; and set -a cmd -n $nsp
    $cmd $argv[1] 2>/dev/null | cut -f1
end

complete -c sio-listen -f
complete -c sio-listen -s S -l socket -r -F -d "The hub's control socket"
complete -c sio-listen -s n -l nsp -x -a / -d 'Only this namespace'
complete -c sio-listen -s e -l event -x -d 'Only events named NAME'
complete -c sio-listen -s r -l room -x -a '(__sio_listen_live list)' -d 'Only sockets in ROOM'
complete -c sio-listen -l cluster -d "Also the other hubs' lines of the Redis cluster"
complete -c sio-listen -l events-only -d 'No connect and disconnect lines'
complete -c sio-listen -s f -l filter -x -d 'Print what the jq program makes of each line'
complete -c sio-listen -s R -l raw-output -d 'With --filter, print strings as text'
complete -c sio-listen -s c -l count -x -a '1 10 100 1000' -d 'Exit after N lines'
complete -c sio-listen -s 1 -l once -d 'Exit after one line (--count 1)'
complete -c sio-listen -s g -l group -x -d 'Share the stream with the listeners of group NAME'
complete -c sio-listen -l json -d 'JSON lines even on a terminal'
complete -c sio-listen -s h -l help -d 'Show the help'
complete -c sio-listen -s V -l version -d 'Show the version'
