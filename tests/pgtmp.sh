#!/bin/sh
# tests/pgtmp.sh - a throwaway PostgreSQL cluster on a loopback port, for
# the tests and the bench (the PostgreSQL store is tested on a real server).
#
#   sh tests/pgtmp.sh start DIR   initdb DIR/data, start on a free port, print
#                                 the URL postgresql://outreach@127.0.0.1:PORT/
#   sh tests/pgtmp.sh pause DIR N stop the server for N seconds, then start it
#   sh tests/pgtmp.sh stop DIR    stop the cluster and remove DIR
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the
# `postgres` user (Debian's package creates it) and runs with runuser. The
# cluster trusts loopback connections, has fsync off (a test cluster) and
# lives until `stop`. Exit status non-zero with one line on stderr when
# PostgreSQL is not installed or does not start.
set -u
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pgtmp.sh start|pause|stop DIR" >&2; exit 2; }
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pgtmp: PostgreSQL is not installed (make deps installs it)" >&2; exit 1; }

as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case $cmd in
start)
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	as_pg "$bin/initdb" -D "$dir/data" -U outreach -A trust -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1 || { echo "pgtmp: initdb failed: $(tail -1 "$dir/initdb.log")" >&2; exit 1; }
	cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
	as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 30 start >/dev/null 2>&1 ||
		{ echo "pgtmp: postgres did not start: $(tail -1 "$dir/data/server.log" 2>/dev/null)" >&2; exit 1; }
	echo "$port" >"$dir/port"
	echo "postgresql://outreach@127.0.0.1:$port/"
	;;
pause)
	# the database goes away for N seconds (sessions are cut), then comes back
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || exit 1
	sleep "${3:-5}"
	as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 30 start >/dev/null 2>&1
	;;
stop)
	[ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$dir"
	;;
*)
	echo "usage: pgtmp.sh start|pause|stop DIR" >&2
	exit 2
	;;
esac
