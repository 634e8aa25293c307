"""storedb - the case's store for the e2e cases' Python checks.

connect(PATH) is sqlite3.connect(PATH); when the suite runs on PostgreSQL
(OUTREACH_TEST_PG set, the case's database in OUTREACH_STORE) it is a small
stand-in asking that database through psql, with the same execute(sql,
args).fetchone()/fetchall()/iteration the checks use. `?` parameters become
quoted literals; integer-looking values come back as int.
"""
import os
import sqlite3
import subprocess


def _lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _val(s):
    if s == "":
        return None
    try:
        return int(s)
    except ValueError:
        return s


class _Rows(list):
    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


class _Psql:
    def __init__(self, url):
        self.url = url

    def execute(self, sql, args=()):
        for a in args:
            sql = sql.replace("?", _lit(a), 1)
        out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                              "-c", sql, self.url], capture_output=True, text=True, check=True).stdout
        return _Rows(tuple(_val(c) for c in line.split("\x1f")) for line in out.splitlines())

    def commit(self):
        pass

    def close(self):
        pass


def connect(path):
    if os.environ.get("OUTREACH_TEST_PG"):
        return _Psql(os.environ["OUTREACH_STORE"])
    return sqlite3.connect(path)
