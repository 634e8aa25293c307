/* store_sqlite_schema.h - the SQLite schema, one entry per version.
 * Never edit a released entry: add the next one. */
#ifndef OUTREACH_STORE_SQLITE_SCHEMA_H
#define OUTREACH_STORE_SQLITE_SCHEMA_H

static const char *const sqlite_migrations[] = {
	/* version 1 */
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
	"CREATE TABLE contacts (\n"
	"  id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, timezone TEXT, locale TEXT,\n"
	"  attrs TEXT NOT NULL DEFAULT '{}', do_not_contact INTEGER NOT NULL DEFAULT 0,\n"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,\n"
	"  seg_eval_at INTEGER);\n"
	"CREATE INDEX contacts_seg_eval ON contacts(seg_eval_at) WHERE seg_eval_at IS NOT NULL;\n"
	"CREATE INDEX contacts_email ON contacts(email);\n"
	"CREATE INDEX contacts_phone ON contacts(phone);\n"
	"CREATE TABLE subscriptions (\n"
	"  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,\n"
	"  channel TEXT NOT NULL, class TEXT NOT NULL, subscribed INTEGER NOT NULL,\n"
	"  updated_at INTEGER NOT NULL, source TEXT,\n"
	"  PRIMARY KEY (contact_id, channel, class));\n"
	"CREATE TABLE events (\n"
	"  id INTEGER PRIMARY KEY, contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,\n"
	"  type TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL DEFAULT '{}',\n"
	"  dedup TEXT NOT NULL UNIQUE, recorded_at INTEGER NOT NULL, send_id INTEGER,\n"
	"  processed INTEGER NOT NULL DEFAULT 0);\n"
	"CREATE INDEX events_contact_type_at ON events(contact_id, type, at);\n"
	"CREATE INDEX events_pending ON events(id) WHERE processed = 0;\n"
	"CREATE TABLE contact_segments (\n"
	"  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,\n"
	"  segment TEXT NOT NULL, since INTEGER NOT NULL, PRIMARY KEY (contact_id, segment));\n"
	"CREATE TABLE enrollments (\n"
	"  id INTEGER PRIMARY KEY, campaign TEXT NOT NULL,\n"
	"  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,\n"
	"  trigger_ref TEXT NOT NULL, trigger_at INTEGER NOT NULL, event_id INTEGER,\n"
	"  holdout INTEGER NOT NULL DEFAULT 0, variant TEXT, created_at INTEGER NOT NULL,\n"
	"  UNIQUE (campaign, contact_id, trigger_ref));\n"
	"CREATE TABLE sends (\n"
	"  id INTEGER PRIMARY KEY, enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),\n"
	"  campaign TEXT NOT NULL, step INTEGER NOT NULL,\n"
	"  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,\n"
	"  priority INTEGER NOT NULL, state TEXT NOT NULL, due_at INTEGER NOT NULL,\n"
	"  expire_at INTEGER, trigger_at INTEGER NOT NULL, template TEXT, channel TEXT,\n"
	"  transport TEXT, address TEXT, attempts INTEGER NOT NULL DEFAULT 0, owner TEXT,\n"
	"  lease_until INTEGER, message_id TEXT, provider_id TEXT, reason TEXT,\n"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, sent_at INTEGER,\n"
	"  UNIQUE (enrollment_id, step));\n"
	"CREATE INDEX sends_due ON sends(priority, due_at) WHERE state IN ('scheduled', 'deferred');\n"
	"CREATE INDEX sends_lease ON sends(lease_until) WHERE state = 'sending';\n"
	"CREATE INDEX sends_contact ON sends(contact_id, state);\n"
	"CREATE INDEX sends_message_id ON sends(message_id) WHERE message_id IS NOT NULL;\n"
	"CREATE TABLE send_log (\n"
	"  id INTEGER PRIMARY KEY, send_id INTEGER NOT NULL, at INTEGER NOT NULL,\n"
	"  state TEXT NOT NULL, reason TEXT);\n"
	"CREATE INDEX send_log_send ON send_log(send_id, id);\n"
	"CREATE TABLE attempts (\n"
	"  id INTEGER PRIMARY KEY, send_id INTEGER NOT NULL, at INTEGER NOT NULL,\n"
	"  transport TEXT NOT NULL, status TEXT NOT NULL, code TEXT, reason TEXT);\n"
	"CREATE INDEX attempts_send ON attempts(send_id);\n"
	"CREATE TABLE suppressions (\n"
	"  address TEXT PRIMARY KEY, channel TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL);\n"
	"CREATE TABLE workers (\n"
	"  id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,\n"
	"  started_at INTEGER NOT NULL, seen_at INTEGER NOT NULL, stopped INTEGER NOT NULL DEFAULT 0);\n",
	/* version 2: the SMS segments a send took */
	"ALTER TABLE sends ADD COLUMN segments INTEGER;\n",
	/* version 3: policies: caps count sends in flight that passed them,
	 * rate limits keep token buckets every worker shares */
	"ALTER TABLE sends ADD COLUMN passed_at INTEGER;\n"
	"CREATE INDEX sends_contact_sent ON sends(contact_id, sent_at) WHERE sent_at IS NOT NULL;\n"
	"CREATE TABLE rate_buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL,\n"
	"  at_ms INTEGER NOT NULL);\n",
	/* version 4: what comes back. Events name the send they answer
	 * (events.send_id, there since version 1); the links of each message
	 * (a click redirects only to its own link); inbound replies, matched
	 * or not; receipts and bounces found by provider id and address */
	"CREATE INDEX events_send ON events(send_id, type) WHERE send_id IS NOT NULL;\n"
	"CREATE TABLE links (\n"
	"  send_id INTEGER NOT NULL, idx INTEGER NOT NULL, url TEXT NOT NULL,\n"
	"  PRIMARY KEY (send_id, idx));\n"
	"CREATE TABLE inbound (\n"
	"  id INTEGER PRIMARY KEY, channel TEXT NOT NULL, sender TEXT NOT NULL, text TEXT,\n"
	"  at INTEGER NOT NULL, contact_id TEXT, send_id INTEGER, kind TEXT NOT NULL);\n"
	"CREATE INDEX sends_provider_id ON sends(provider_id) WHERE provider_id IS NOT NULL;\n"
	"CREATE INDEX sends_address ON sends(address, sent_at) WHERE address IS NOT NULL;\n",
	/* version 5: personal data sealed at rest (pii.h): the keyed hashes
	 * contacts are found by when their email and phone are sealed */
	"ALTER TABLE contacts ADD COLUMN email_h TEXT;\n"
	"ALTER TABLE contacts ADD COLUMN phone_h TEXT;\n"
	"CREATE INDEX contacts_email_h ON contacts(email_h) WHERE email_h IS NOT NULL;\n"
	"CREATE INDEX contacts_phone_h ON contacts(phone_h) WHERE phone_h IS NOT NULL;\n",
	/* version 6: what a server accepted, recorded at once (one small row)
	 * before the full record of the send: a claim released after a crash
	 * finishes as sent from it instead of going out again */
	"CREATE TABLE acks (\n"
	"  send_id INTEGER PRIMARY KEY, owner TEXT NOT NULL, at INTEGER NOT NULL,\n"
	"  channel TEXT, transport TEXT, address TEXT, message_id TEXT, provider_id TEXT,\n"
	"  segments INTEGER, reason TEXT, code TEXT, attempt_reason TEXT);\n",
	NULL,
};

#endif
