# tests/e2e/cases_serve_guard.sh - `outreach serve` hardening end to end:
# the uid drop, per-client connection and request-rate limits, and that no
# request makes the server fetch a URL or open a file it names.
#
# Sourced by tests/e2e/run.sh; uses cases_serve.sh's helpers (sv_start,
# sv_http, sv_want, sv_stop), sourced before this file.

# The suite runs as root on stores in root's temporary folders, where a
# serve that became nobody could not write: the other serve cases keep
# root by saying so ($OUTREACH_SERVE_ALLOW_ROOT=1, only honoured when no
# serve.user or --user is named). This belongs in run.sh beside
# OUTREACH_SECRET; the cases below unset it to test the real default.
export OUTREACH_SERVE_ALLOW_ROOT=1

ALL="$ALL"
