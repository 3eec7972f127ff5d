# fish completion for sio-hub(1). Install as sio-hub.fish in
# ~/.config/fish/completions or /usr/share/fish/vendor_completions.d.
# Values offered are the defaults, or the few choices there are.

complete -c sio-hub -f
complete -c sio-hub -s b -l bind -x -a '127.0.0.1 0.0.0.0 localhost ::1 ::' -d 'Address to listen on (default 127.0.0.1)'
complete -c sio-hub -s p -l port -x -a 3000 -d 'TCP port (default 3000)'
complete -c sio-hub -l path -x -a /socket.io/ -d 'Engine.IO path of Socket.IO (default /socket.io/)'
complete -c sio-hub -s n -l nsp -x -a / -d 'Also accept namespace NSP (repeatable)'
complete -c sio-hub -l any-nsp -d 'Accept every namespace a client asks for'
# --relay takes an optional MODE, only in the same word: --relay=MODE.
complete -c sio-hub -l relay -d 'Re-broadcast client events'
complete -c sio-hub -n 'string match -q -- "--relay=*" (commandline -ct)' -a '--relay=all' -d 'To the other sockets of the namespace'
complete -c sio-hub -n 'string match -q -- "--relay=*" (commandline -ct)' -a '--relay=rooms' -d "To the other sockets of the sender's rooms"
complete -c sio-hub -n 'string match -q -- "--relay=*" (commandline -ct)' -a '--relay=off' -d 'No relay'
complete -c sio-hub -l ping-interval -x -a 25000 -d 'Heartbeat interval in ms (default 25000)'
complete -c sio-hub -l ping-timeout -x -a 20000 -d 'Heartbeat timeout in ms (default 20000)'
complete -c sio-hub -l connect-timeout -x -a 45000 -d 'Close clients that join no namespace, ms (default 45000)'
complete -c sio-hub -l upgrade-timeout -x -a 10000 -d 'Give up an unfinished upgrade, ms (default 10000)'
complete -c sio-hub -l max-payload -x -a 1000000 -d 'Largest message or POST body (default 1000000)'
complete -c sio-hub -l transports -x -a 'polling,websocket websocket polling' -d 'Transports clients may use (default both)'
complete -c sio-hub -l cors -x -a '\*' -d 'Allow cross-origin requests from ORIGIN (repeatable)'
complete -c sio-hub -l engine-echo -x -d 'Also serve a bare Engine.IO echo endpoint at PATH'
complete -c sio-hub -l static -x -a '(__fish_complete_directories)' -d 'Serve the files under DIR at /'
complete -c sio-hub -l metrics -x -a 'auto on off' -d 'Serve GET /health and /metrics'
complete -c sio-hub -s c -l config -r -F -d 'Settings file'
complete -c sio-hub -l check-config -d 'Check the settings and files, then exit'
complete -c sio-hub -s S -l socket -r -F -d 'Control socket'
complete -c sio-hub -l no-control -d 'Serve no control socket'
complete -c sio-hub -l max-header-bytes -x -a 16384 -d 'Largest HTTP request head (default 16384)'
complete -c sio-hub -l max-fragments -x -a 1024 -d 'Frames in one WebSocket message (default 1024)'
complete -c sio-hub -l http-timeout -x -a 30000 -d 'Idle keep-alive and slow request limit, ms (default 30000)'
complete -c sio-hub -l max-output -x -a 16777216 -d 'Output queued per client before it is dropped (default 16777216)'
complete -c sio-hub -s v -l verbose -d 'Log more (repeatable)'
complete -c sio-hub -s q -l quiet -d 'Log errors only'
complete -c sio-hub -s h -l help -d 'Show the help'
complete -c sio-hub -s V -l version -d 'Show the version'
