# gnuplot -c chart.gp DATA OUT.svg TITLE
# DATA columns: scenario, sio msgs/s, node msgs/s, sio p50 p99 p99.9 (ms),
# node p50 p99 p99.9 (ms), sio CPU s/M, node CPU s/M
data = ARG1
set terminal svg size 1200,900 dynamic font "sans,11" background "white"
set output ARG2
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top
set xtics nomirror
set multiplot layout 3,1 title "sio-hub vs socket.io 4.8 (Node) — ".ARG3

set title "delivered messages per second (higher is better)"
set logscale y
set yrange [1000:*]
set format y "%.0s%c"
plot data using 2:xtic(1) title "sio-hub" lc rgb "#1f77b4", \
     "" using 3 title "node" lc rgb "#ff7f0e"

set title "latency, ms: p50, p99, p99.9 (lower is better)"
set format y "%g"
set yrange [0.1:*]
plot data using 4:xtic(1) title "sio p50" lc rgb "#9ecae1", \
     "" using 5 title "sio p99" lc rgb "#3182bd", \
     "" using 6 title "sio p99.9" lc rgb "#08519c", \
     "" using 7 title "node p50" lc rgb "#fdbe85", \
     "" using 8 title "node p99" lc rgb "#fd8d3c", \
     "" using 9 title "node p99.9" lc rgb "#d94701"

set title "server CPU seconds per million delivered messages (lower is better)"
set yrange [0.01:*]
plot data using 10:xtic(1) title "sio-hub (+ sio-emit)" lc rgb "#1f77b4", \
     "" using 11 title "node" lc rgb "#ff7f0e"
unset multiplot
