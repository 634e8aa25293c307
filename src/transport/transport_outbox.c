/* transport_outbox.c - the outbox transport: each message becomes a file
 *
 * `dir` (default var/outbox) receives <send_id>.eml for email (the
 * mime_build message) and <send_id>.json for sms and chat. Files are
 * written atomically: a hidden temporary name in the same directory,
 * fsync, rename over the final name, fsync the directory. The name is the
 * send id, so a retry after a crash between write and record replaces the
 * file and a message is never in the outbox twice.
 *
 * With `encrypt: true` each file holds one line instead: the message
 * sealed as pii.h describes (label "outbox"), so the outbox keeps no
 * address or name in clear either; `outreach outbox show FILE` opens it.
 *
 * Security: names are built from the numeric send id only, the temporary
 * file is opened with O_NOFOLLOW, and nothing from the message reaches a
 * path. Clear files hold personal data; their mode follows the umask.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "mime.h"
#include "pii.h"
#include "transport.h"
#include "xmalloc.h"

#define OUTBOX_DEFAULT_DIR "var/outbox"

struct outbox {
	char *dir;
	struct pii_keys *keys; /* encrypt: true: files are sealed */
};

/* mkdir_p - make dir and its missing parents, like mkdir -p */
static int mkdir_p(const char *dir)
{
	char *p = xstrdup(dir);
	int rc = 0, saved = 0;
	for (char *s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			saved = errno;
			rc = -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	errno = saved;
	if (rc == 0) {
		struct stat st;
		if (stat(dir, &st) < 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
	return rc;
}

static int outbox_create(const struct config *cfg, const struct transport_conf *conf, int flags,
			 void **state, struct err *e)
{
	const char *dir;
	if (transport_opt_str(cfg, conf, "dir", &dir, e) < 0)
		return -1;
	if (!dir)
		dir = OUTBOX_DEFAULT_DIR;
	if (flags & TRANSPORT_CHECK)
		return 0;
	struct pii_keys *keys = NULL;
	if (cfg->encrypt && !(keys = pii_keys_from_env(cfg->encrypt_key_env, e)))
		return -1;
	if (mkdir_p(dir) < 0) {
		pii_keys_free(keys);
		return transport_conf_err(cfg, conf, "dir", e, "cannot create directory \"%s\": %s",
					  dir, strerror(errno));
	}
	struct outbox *o = xcalloc(1, sizeof(*o));
	o->dir = xstrdup(dir);
	o->keys = keys;
	*state = o;
	return 0;
}

static void outbox_free(void *state)
{
	struct outbox *o = state;
	if (!o)
		return;
	free(o->dir);
	pii_keys_free(o->keys);
	free(o);
}

/* json_str - a JSON string for s (null when NULL); -1 when not UTF-8 */
static int json_str(json_t *obj, const char *key, const char *s)
{
	json_t *v = s ? json_string(s) : json_null();
	if (!v)
		return -1;
	json_object_set_new(obj, key, v);
	return 0;
}

/* message_json - the sms/chat file body, newline-terminated, raw UTF-8 */
static int message_json(const struct message *m, struct buf *out, struct err *e)
{
	json_t *o = json_object();
	int bad = 0;
	json_object_set_new(o, "send_id", json_integer(m->send_id));
	json_object_set_new(o, "channel", json_string(channel_name(m->channel)));
	if (json_str(o, "to", m->to) < 0)
		bad = err_set(e, "\"to\" is not valid UTF-8");
	else if (m->to_name && json_str(o, "to_name", m->to_name) < 0)
		bad = err_set(e, "\"to_name\" is not valid UTF-8");
	else if (json_str(o, "text", m->text ? m->text : "") < 0)
		bad = err_set(e, "text is not valid UTF-8");
	else if (json_str(o, "campaign", m->campaign) < 0)
		bad = err_set(e, "\"campaign\" is not valid UTF-8");
	json_object_set_new(o, "step", json_integer(m->step));
	if (!bad) {
		char *s = json_dumps(o, JSON_INDENT(2));
		if (!s)
			log_panic("outbox: json_dumps failed");
		buf_puts(out, s);
		buf_putc(out, '\n');
		free(s);
	}
	json_decref(o);
	return bad;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* write_atomic - path gets exactly data or stays as it was; on failure
 * the reason holds the failing step and strerror */
static int write_atomic(const char *dir, const char *name, const struct buf *data, char *reason,
			size_t rlen)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *tmp = xasprintf("%s/.%s.tmp.%ld", dir, name, (long)getpid());
	const char *step = "open";
	int rc = -1, saved = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd >= 0) {
		if (write_all(fd, buf_cstr(data), data->len) < 0)
			step = "write";
		else if (fsync(fd) < 0)
			step = "fsync";
		else
			rc = 0;
		saved = errno;
		if (close(fd) < 0 && rc == 0) {
			step = "close";
			saved = errno;
			rc = -1;
		}
		if (rc == 0 && rename(tmp, path) < 0) {
			step = "rename";
			saved = errno;
			rc = -1;
		}
		if (rc < 0)
			unlink(tmp);
	} else {
		saved = errno;
	}
	if (rc == 0) {
		/* make the rename itself durable; some file systems cannot,
		 * and the data is safe already, so this is no deferral */
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	} else {
		snprintf(reason, rlen, "%s %s: %s", step, tmp, strerror(saved));
	}
	free(path);
	free(tmp);
	return rc;
}

static void outbox_one(struct outbox *o, const struct message *m, int64_t now, struct delivery *d)
{
	struct buf data = BUF_INIT;
	struct err e;
	const char *ext;
	int rc;

	err_clear(&e);
	switch (m->channel) {
	case CHANNEL_EMAIL:
		ext = "eml";
		rc = mime_build(m, now, &data, &e);
		break;
	case CHANNEL_SMS:
	case CHANNEL_CHAT:
		ext = "json";
		if (m->channel == CHANNEL_SMS && (!m->to || !*m->to))
			rc = err_set(&e, "sms message has no recipient");
		else
			rc = message_json(m, &data, &e);
		break;
	default:
		ext = NULL;
		rc = err_set(&e, "unknown channel %d", (int)m->channel);
		break;
	}
	if (rc < 0) {
		transport_set(d, DELIVERY_FAIL, "invalid", "%s", e.msg);
		buf_release(&data);
		return;
	}

	if (o->keys) {
		char *sealed = pii_seal(o->keys, "outbox", buf_cstr(&data));
		data.len = 0;
		buf_puts(&data, sealed);
		buf_putc(&data, '\n');
		free(sealed);
	}
	char name[64];
	snprintf(name, sizeof(name), "%lld.%s", (long long)m->send_id, ext);
	char reason[sizeof(d->reason)];
	if (write_atomic(o->dir, name, &data, reason, sizeof(reason)) < 0) {
		transport_set(d, DELIVERY_DEFER, "io", "%s", reason);
	} else {
		transport_set(d, DELIVERY_OK, "ok", "written to %s/%s", o->dir, name);
		snprintf(d->provider_id, sizeof(d->provider_id), "%s", name);
	}
	buf_release(&data);
}

static int outbox_deliver(void *state, const struct message *const *m, size_t n, int64_t now,
			  struct delivery *d)
{
	for (size_t i = 0; i < n; i++)
		outbox_one(state, m[i], now, &d[i]);
	return 0;
}

/* threads - files are written inline: an fsync'd rename needs no pool */
static int outbox_threads(void *state)
{
	(void)state;
	return 0;
}

static const char *const outbox_keys[] = {"dir", "from", "max_segments", NULL};

const struct transport_ops transport_outbox = {
    .kind = "outbox",
    .keys = outbox_keys,
    .create = outbox_create,
    .deliver = outbox_deliver,
    .threads = outbox_threads,
    .free = outbox_free,
};
