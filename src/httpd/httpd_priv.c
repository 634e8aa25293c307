/* httpd_priv.c - `serve` gives up root: it becomes serve.user (default
 * nobody) after binding its socket, and checks that this user can write
 * the store.
 *
 * How: the user is looked up (getpwnam), then initgroups, setresgid and
 * setresuid set the groups and every gid and uid (real, effective, saved)
 * to that user's, so nothing can switch back; a last setuid(0) must fail.
 * PR_SET_NO_NEW_PRIVS keeps an exec from gaining privileges again. This
 * runs before any thread starts and before the store is opened, so every
 * file the server makes (SQLite's -wal and -shm) belongs to that user.
 *
 * Security: a missing user or one with uid 0 is refused rather than
 * running on as root. The one way to stay root is to say so outside the
 * config, $OUTREACH_SERVE_ALLOW_ROOT=1, and name no user (the test suite's
 * stores are root's; php-fpm's --allow-to-run-as-root is the model). The store check uses access(2)
 * as the new user, so it sees exactly what that user may do.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "httpd.h"
#include "log.h"
#include "xmalloc.h"

#define DEFAULT_USER "nobody"

int httpd_drop_privileges(const char *user, int *usage, struct err *e)
{
	*usage = 0;
	if (geteuid() != 0 && getuid() != 0) {
		if (user) {
			struct passwd *pw = getpwnam(user);
			if (!pw || pw->pw_uid != geteuid())
				log_warn("serve: not started as root: serve.user \"%s\" ignored, "
					 "running as uid %u",
					 user, (unsigned)geteuid());
		}
		return 0;
	}
	if (!user) {
		const char *a = getenv(HTTPD_ALLOW_ROOT_ENV);
		if (a && strcmp(a, "1") == 0) {
			log_warn("serve: running as root ($%s=1 and no serve.user or --user)",
				 HTTPD_ALLOW_ROOT_ENV);
			return 0;
		}
	}
	const char *name = user ? user : DEFAULT_USER;
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		*usage = 1;
		return err_set(e,
			       "serve: user \"%s\" does not exist: refusing to run as root "
			       "(set serve.user or --user to an unprivileged user)",
			       name);
	}
	if (pw->pw_uid == 0) {
		*usage = 1;
		return err_set(e,
			       "serve: user \"%s\" has uid 0: refusing to run as root (set "
			       "serve.user or --user to an unprivileged user)",
			       name);
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	char *pname = xstrdup(pw->pw_name);
	int rc = 0;
	if (initgroups(pname, gid) < 0)
		rc = err_set(e, "serve: cannot take the groups of user \"%s\": %s", pname,
			     strerror(errno));
	else if (setresgid(gid, gid, gid) < 0)
		rc =
		    err_set(e, "serve: cannot set group id %u: %s", (unsigned)gid, strerror(errno));
	else if (setresuid(uid, uid, uid) < 0)
		rc = err_set(e, "serve: cannot become user \"%s\": %s", pname, strerror(errno));
	else if (setuid(0) == 0 || geteuid() == 0 || getuid() == 0 || getegid() == 0)
		rc = err_set(e, "serve: still root after becoming user \"%s\": refusing to run",
			     pname);
	if (rc == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			log_warn("serve: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		log_info("serve: running as user %s (uid %u, gid %u)", pname, (unsigned)uid,
			 (unsigned)gid);
	}
	free(pname);
	return rc;
}

/* need - path must allow mode to the current user: 0 it does, 1 it does
 * not exist and may_be_absent (the store says what is missing when it is
 * opened), else -1 with e set */
static int need(const char *path, int mode, int may_be_absent, const char *what, struct err *e)
{
	if (access(path, mode) == 0)
		return 0;
	int err = errno;
	if (err == ENOENT && may_be_absent)
		return 1;
	const char *who = NULL;
	struct passwd *pw = getpwuid(geteuid());
	if (pw)
		who = pw->pw_name;
	return err_set(e,
		       "serve: store %s %s is not %s by user %s (uid %u): %s; the store, its "
		       "-wal and -shm files and its folder must be writable by the serve user",
		       what, path, mode & W_OK ? "writable" : "readable", who ? who : "?",
		       (unsigned)geteuid(), strerror(err));
}

int httpd_store_writable(const char *store, struct err *e)
{
	const char *path = store;
	if (strncmp(path, "sqlite://", 9) == 0)
		path += 9;
	else if (strstr(path, "://"))
		return 0; /* another backend: its server decides */
	if (strcmp(path, ":memory:") == 0)
		return 0;
	const char *slash = strrchr(path, '/');
	char *dir = !slash	    ? xstrdup(".")
		    : slash == path ? xstrdup("/")
				    : xasprintf("%.*s", (int)(slash - path), path);
	int rc = need(dir, R_OK | W_OK | X_OK, 1, "folder", e);
	free(dir);
	if (rc < 0)
		return -1;
	if (need(path, R_OK | W_OK, 1, "file", e) < 0)
		return -1;
	static const char *const sides[] = {"-wal", "-shm"};
	for (size_t i = 0; i < 2; i++) {
		char *p = xasprintf("%s%s", path, sides[i]);
		rc = need(p, R_OK | W_OK, 1, "file", e);
		free(p);
		if (rc < 0)
			return -1;
	}
	return 0;
}
