# cases_store.sh - the store's own failures at start (issue 7, "bad input"):
# a server that is not there, a role or database that does not exist, a
# schema newer than the binary. Each is one line, exit 1, nothing sent and
# no password shown. Sourced by run.sh; runs on both backends.

c_store_bad() {
	cfg_hello
	ok_o init
	ok_o contacts import "$DATA/flow_contacts.csv"
	ok_o events import "$DATA/flow_events.jsonl"
	# bad_store URL WANT WHAT - run --once on URL: exit 1, one line with WANT
	bad_store() {
		sed "s|^store: .*|store: $1|" "$T/o.yaml" >"$T/bad.yaml"
		env -u OUTREACH_STORE "$O" -c "$T/bad.yaml" run --once --now 2026-03-01T10:30:00Z \
			>"$T/out" 2>"$T/err"
		rc=$?
		[ $rc = 1 ] || fail "$3: exit $rc, want 1: $(cat "$T/err")"
		[ "$(wc -l <"$T/err")" = 1 ] || fail "$3: not one line: $(cat "$T/err")"
		err_has "$2" "$3"
		grep -q s3cr3tpw "$T/err" && fail "$3: the password is shown: $(cat "$T/err")"
		[ "$(nout)" = 0 ] || fail "$3: something was sent"
	}
	bad_store "postgresql://u:s3cr3tpw@127.0.0.1:1/outreach" "cannot connect" "a server that is not there"
	bad_store "mysql://u:s3cr3tpw@127.0.0.1/outreach" "no backend" "a scheme nobody serves"
	if on_pg; then
		base=${OUTREACH_TEST_PG%/*}
		hostport=${base#postgresql://*@}
		bad_store "postgresql://nobody:s3cr3tpw@$hostport/postgres" 'role "nobody" does not exist' "an unknown role"
		bad_store "$base/no_such_db" 'database "no_such_db" does not exist' "a missing database"
	fi
	# a schema newer than this binary: refused before anything is claimed
	sqlite3 "$T/o.db" "UPDATE meta SET value = '99' WHERE key = 'schema_version'"
	expect_rc 1 run --once --now 2026-03-01T10:30:00Z
	err_has "newer than this outreach" "a newer schema"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "a newer schema: not one line: $(cat "$T/err")"
	[ "$(nout)" = 0 ] || fail "a newer schema: something was sent"
	expect_rc 1 init
	err_has "newer than this outreach" "init on a newer schema"
	[ "$(sqlite3 "$T/o.db" "SELECT value FROM meta WHERE key = 'schema_version'")" = 99 ] ||
		fail "init changed a newer schema's version"
}

ALL="$ALL c_store_bad"
