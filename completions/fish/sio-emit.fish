# fish completion for sio-emit(1). Install as sio-emit.fish in
# ~/.config/fish/completions or /usr/share/fish/vendor_completions.d.
#
# Rooms for --to and --except are asked of the running hub with
# `sio-rooms list`, on the socket and namespace already on the command
# line (-S/--socket, -n/--nsp, else $SIO_SOCKET); with no hub, nothing.

# __sio_emit_live list|sockets: the first column of `sio-rooms list` or
# `sio-rooms sockets`, asked on the socket and namespace already on the
# command line.
function __sio_emit_live
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

complete -c sio-emit -f
complete -c sio-emit -s S -l socket -r -F -d "The hub's control socket"
complete -c sio-emit -s n -l nsp -x -a / -d 'Namespace (default /)'
complete -c sio-emit -s t -l to -x -a '(__sio_emit_live list)' -d 'Only sockets in ROOM (a socket id is a room)'
complete -c sio-emit -s x -l except -x -a '(__sio_emit_live list)' -d 'Not the sockets in ROOM'
complete -c sio-emit -l volatile -d 'May be dropped for a client that is behind'
complete -c sio-emit -l raw -x -d 'Send each stdin line as the string argument of EVENT'
complete -c sio-emit -l jq -x -d 'Build event objects from JSON on stdin with a jq program'
complete -c sio-emit -l strict -d 'Stop at the first bad stdin line'
complete -c sio-emit -l ack -d "Wait for every recipient's ack, print one line per answer"
complete -c sio-emit -l timeout -x -a '500ms 1s 2s 5s 10s 30s 1m' -d 'How long --ack waits (default 5s)'
complete -c sio-emit -l redis -x -a redis://127.0.0.1:6379 -d 'No hub: publish to a Redis cluster as @socket.io/redis-emitter does'
complete -c sio-emit -l redis-key -x -a socket.io -d "The cluster's channel prefix (default socket.io)"
complete -c sio-emit -l reply -x -d 'Answer the ack HANDLE printed by sio-listen'
complete -c sio-emit -s q -l quiet -d 'Do not report bad lines, only count them'
complete -c sio-emit -s h -l help -d 'Show the help'
complete -c sio-emit -s V -l version -d 'Show the version'
