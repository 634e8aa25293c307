#!/bin/sh
# demo.sh - `make demo`: the seed playbooks on the embedded store, no server needed.
# Resets var/outreach.db and var/outbox (the sample config's store and outbox).
set -eu
cd "$(dirname "$0")/.."
O=build/outreach
export OUTREACH_SECRET="${OUTREACH_SECRET:-demo-secret-change-me}"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
rm -rf var/outreach.db var/outreach.db-wal var/outreach.db-shm var/outreach.db.wake var/outbox

say outreach init;                                   $O init
say outreach check;                                  $O check
say outreach contacts import config/samples/contacts.csv; $O contacts import config/samples/contacts.csv
say outreach events import config/samples/events.jsonl;   $O events import config/samples/events.jsonl
say outreach run --once --now 2026-03-01T10:00:00Z;  $O run --once --now 2026-03-01T10:00:00Z
say outreach segments;                               $O segments
say ls var/outbox;                                   ls var/outbox
first_eml=$(ls var/outbox/*.eml | head -n 1)
say "sed -n 1,12p $first_eml";                       sed -n 1,12p "$first_eml"
for f in var/outbox/*.json; do say "cat $f"; cat "$f"; done
say outreach report;                                 $O report
held=$(sqlite3 var/outreach.db "SELECT id FROM sends WHERE reason LIKE 'quiet hours%' ORDER BY id LIMIT 1")
if [ -n "$held" ]; then say "outreach why $held   # held by quiet hours in the contact's own zone"; $O why "$held"; fi
for t in 2026-03-01T14:00:00Z 2026-03-01T20:00:00Z 2026-03-02T01:00:00Z; do
	say "outreach run --once --now $t   # 09:00 in New York, Auckland, Shanghai: what was held goes out"
	$O run --once --now $t
done
say 'outreach event add --contact c3 --type replied --at 2026-03-03T10:00:00+08:00'
$O event add --contact c3 --type replied --at 2026-03-03T10:00:00+08:00 --data '{"text":"谢谢，已经解决了"}'
say 'outreach run --once --now 2026-03-08T12:00:00Z   # a week later: follow-ups and surveys'
$O run --once --now 2026-03-08T12:00:00Z
say outreach report;                                 $O report
id=$($O contacts show c3 | sed -n 's/^ *"id": \([0-9][0-9]*\),*$/\1/p' | head -n 1)
if [ -n "$id" ]; then say "outreach why $id"; $O why "$id"; fi
printf '\nThe messages are in var/outbox/. Edit config/outreach.yaml and templates/ and run again.\n'
