#!/bin/sh
# sio-hub --static DIR: files with their content types, index.html for
# directories, no listings, nothing outside DIR whatever the path says.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

www=$DIR/www
mkdir -p "$www/app" "$www/empty" "$DIR/secret"
echo '<h1>home</h1>' >"$www/index.html"
echo 'console.log(1)' >"$www/app/main.js"
echo '<p>app</p>' >"$www/app/index.html"
echo 'body{}' >"$www/app/style.css"
echo '{"a":1}' >"$www/data.json"
printf '\211PNG' >"$www/logo.png"
echo 'top secret' >"$DIR/secret/key.txt"
ln -s "$DIR/secret/key.txt" "$www/link-out"
ln -s "$DIR/secret" "$www/dir-out"
echo 'plus' >"$www/a+b.txt"

start_hub --static "$www" || { not_ok "sio-hub --static starts" "$(show "$HUB_LOG")"; exit 1; }

get() { # get PATH: "status content-type" (the path is sent as it is)
	curl -s --path-as-is -o "$DIR/body" -w '%{http_code} %{content_type}' "$URL$1"
}
check_eq "/ is index.html" "200 text/html; charset=utf-8" "$(get /)"
check_eq "with its bytes" "<h1>home</h1>" "$(cat "$DIR/body")"
check_eq "a script" "200 text/javascript; charset=utf-8" "$(get /app/main.js)"
check_eq "a style sheet" "200 text/css; charset=utf-8" "$(get /app/style.css)"
check_eq "JSON" "200 application/json" "$(get /data.json)"
check_eq "an image" "200 image/png" "$(get /logo.png)"
check_eq "a directory gives its index.html" "200 text/html; charset=utf-8" "$(get /app/)"
check_eq "also without the slash" "200 text/html; charset=utf-8" "$(get /app)"
check_eq "a directory without index.html: 404, no listing" "404" "$(get /empty/ | cut -d' ' -f1)"
check_eq "a missing file: 404" "404" "$(get /nope.html | cut -d' ' -f1)"
check_eq "'+' in a path is a plus" "200" "$(get '/a+b.txt' | cut -d' ' -f1)"
for p in /../secret/key.txt /app/../../secret/key.txt /%2e%2e/secret/key.txt \
	/app/%2e%2e%2f%2e%2e%2fsecret/key.txt /link-out /dir-out/key.txt '/..%2fsecret/key.txt' \
	/data.json%00.html /%00/../secret/key.txt; do
	st=$(get "$p" | cut -d' ' -f1)
	if [ "$st" = 404 ] && ! grep -q secret "$DIR/body"; then
		ok "$p: 404, nothing from outside"
	else
		not_ok "$p does not leave the directory" "status $st: $(show "$DIR/body")"
	fi
done
check_eq "HEAD: the headers without the body" "200 0" \
	"$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$URL/data.json")"
check_eq "POST to a file: 405" "405" "$(curl -s -o /dev/null -w '%{http_code}' -d x "$URL/data.json")"
check_eq "the Socket.IO path is still Socket.IO" "200" \
	"$(get '/socket.io/?EIO=4&transport=polling' | cut -d' ' -f1)"
done_testing
