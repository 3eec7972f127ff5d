# fish completion for sio-rooms(1). Install as sio-rooms.fish in
# ~/.config/fish/completions or /usr/share/fish/vendor_completions.d.
#
# Rooms (the ROOM of members, count, join and leave; --in, --except) and
# socket ids (--sid) are asked of the running hub with `sio-rooms list`
# and `sio-rooms sockets`, on the socket and namespace already on the
# command line (-S/--socket, -n/--nsp, else $SIO_SOCKET); with no hub,
# nothing.

# __sio_rooms_live list|sockets: the first column of `sio-rooms list` or
# `sio-rooms sockets`, asked on the socket and namespace already on the
# command line.
function __sio_rooms_live
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

# The words of the command line that are not options: the command, then
# its ROOM.
function __sio_rooms_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    set -l ddash 0
    for w in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        if test $ddash = 0
            switch $w
                case --
                    set ddash 1
                    continue
                case -S --socket -n --nsp -s --sid -i --in -x --except
                    set skip 1
                    continue
                case '-*'
                    continue
            end
        end
        echo $w
    end
end

# __sio_rooms_needs command|room: is that the next word?
function __sio_rooms_needs
    set -l args (__sio_rooms_args)
    switch $argv[1]
        case command
            test (count $args) -eq 0
        case room
            test (count $args) -eq 1
            and contains -- $args[1] members count join leave
    end
end

complete -c sio-rooms -f
complete -c sio-rooms -n '__sio_rooms_needs command' -a list -d 'The rooms and how many sockets each has'
complete -c sio-rooms -n '__sio_rooms_needs command' -a members -d 'The ids of the sockets in ROOM'
complete -c sio-rooms -n '__sio_rooms_needs command' -a sockets -d 'The sockets, their rooms and addresses'
complete -c sio-rooms -n '__sio_rooms_needs command' -a count -d 'The number of sockets in ROOM'
complete -c sio-rooms -n '__sio_rooms_needs command' -a join -d 'Put sockets in ROOM'
complete -c sio-rooms -n '__sio_rooms_needs command' -a leave -d 'Take sockets out of ROOM'
complete -c sio-rooms -n '__sio_rooms_needs command' -a disconnect -d 'Disconnect sockets'
complete -c sio-rooms -n '__sio_rooms_needs room' -a '(__sio_rooms_live list)' -d Room
complete -c sio-rooms -s S -l socket -r -F -d "The hub's control socket"
complete -c sio-rooms -s n -l nsp -x -a / -d 'Namespace (default /)'
complete -c sio-rooms -s a -l all -d 'list: also the rooms named by socket ids'
complete -c sio-rooms -s s -l sid -x -a '(__sio_rooms_live sockets)' -d 'The socket SID'
complete -c sio-rooms -s i -l in -x -a '(__sio_rooms_live list)' -d 'The sockets in ROOM'
complete -c sio-rooms -s x -l except -x -a '(__sio_rooms_live list)' -d 'Not the sockets in ROOM'
complete -c sio-rooms -s l -l local -d "In a cluster: this hub's sockets only"
complete -c sio-rooms -l close -d 'disconnect: close the whole connection, not just the namespace'
complete -c sio-rooms -l json -d 'JSON lines'
complete -c sio-rooms -s h -l help -d 'Show the help'
complete -c sio-rooms -s V -l version -d 'Show the version'
