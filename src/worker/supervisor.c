/* supervisor.c - `run --workers N`: a parent that keeps N worker processes up
 *
 * Like Postfix's master: the parent forks the children, notices each death
 * (SIGCHLD, waitpid), logs it with the pid and the signal or status, and
 * starts a new child after a backoff (1 s doubling to 30 s; reset when the
 * dead child had been up a minute). Five deaths in a row within 1 s of the
 * start mean the child cannot run at all (a bad transport, a store that
 * refuses it): the supervisor stops the others and gives up with one line.
 * SIGTERM and SIGINT are forwarded to every child, which drains and exits;
 * the supervisor waits for all of them.
 *
 * How: the signals the parent cares about are blocked and taken with
 * sigtimedwait, so there is no handler racing the loop; the timeout is the
 * next pending restart. Each child gets a pipe on which it writes its
 * totals (one struct, less than PIPE_BUF, so atomic) just before it exits;
 * the parent reads it after reaping the child.
 *
 * Security and safety: the parent opens no store handle and starts no
 * thread before forking (each child opens its own connection: SQLite and
 * libpq handles must never cross a fork). On Linux a child asks for SIGTERM
 * when the supervisor dies, so an orphan drains and exits instead of
 * running unsupervised.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "log.h"
#include "xmalloc.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_MS 60000 /* up this long: the next death starts at 1 s again */
#define QUICK_MS 1000          /* a death this soon after the start is "quick" */
#define QUICK_GIVE_UP 5        /* quick deaths in a row that end the supervisor */

struct slot {
	pid_t pid;          /* 0: no child running */
	int rfd;            /* read end of the child's totals pipe; -1 none */
	int64_t started;    /* monotonic ms */
	int64_t restart_at; /* monotonic ms of a pending restart; 0 none */
	int64_t backoff;    /* ms: the delay before the next restart */
	int quick;          /* quick deaths in a row */
	int status;         /* final exit status, once the slot is done */
};

struct sup {
	const struct supervisor_opts *o;
	supervisor_child fn;
	void *arg;
	struct slot *slots;
	sigset_t orig; /* the mask to give back to children */
	pid_t self;
	struct worker_totals *sum;
	int stopping; /* the signal forwarded, 0 before */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_chld(int sig)
{
	(void)sig; /* only makes SIGCHLD pending for sigtimedwait */
}

static void totals_add(struct worker_totals *a, const struct worker_totals *b)
{
	a->claimed += b->claimed;
	a->sent += b->sent;
	a->deferred += b->deferred;
	a->failed += b->failed;
	a->suppressed += b->suppressed;
	a->expired += b->expired;
	a->cancelled += b->cancelled;
	a->held += b->held;
}

/* child_main - the child's side of a fork; never returns */
static void child_main(struct sup *sp, int wfd)
{
	for (int i = 0; i < sp->o->n; i++)
		if (sp->slots[i].rfd >= 0)
			close(sp->slots[i].rfd);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigprocmask(SIG_SETMASK, &sp->orig, NULL);
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (getppid() != sp->self)
		_exit(1); /* the supervisor died before the line above */
	struct worker_totals t;
	memset(&t, 0, sizeof(t));
	int rc = sp->fn(sp->arg, &t);
	ssize_t w;
	do
		w = write(wfd, &t, sizeof(t));
	while (w < 0 && errno == EINTR);
	close(wfd);
	exit(rc);
}

/* start - fork the child of slot k; a failed fork is handled as a quick
 * death by the caller's next look (restart_at set) */
static void start(struct sup *sp, int k)
{
	struct slot *s = &sp->slots[k];
	int fds[2];
	s->restart_at = 0;
	s->started = mono_ms();
	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_error("worker %d: cannot create a pipe: %s; retrying in %lld s", k + 1,
			  strerror(errno), (long long)(s->backoff / 1000));
		s->restart_at = s->started + s->backoff;
		return;
	}
	fflush(NULL); /* nothing buffered is written twice */
	pid_t pid = fork();
	if (pid < 0) {
		log_error("worker %d: cannot fork: %s; retrying in %lld s", k + 1, strerror(errno),
			  (long long)(s->backoff / 1000));
		close(fds[0]);
		close(fds[1]);
		s->restart_at = s->started + s->backoff;
		return;
	}
	if (pid == 0)
		child_main(sp, fds[1]);
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	s->pid = pid;
	s->rfd = fds[0];
	log_debug("worker %d started: pid %d", k + 1, (int)pid);
}

/* describe - "exited with status 3" / "killed by signal 9 (Killed)" */
static void describe(int status, char *out, size_t n)
{
	if (WIFEXITED(status))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, n, "killed by signal %d (%s)%s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(out, n, "ended with wait status %d", status);
}

/* stop_all - forward sig to every running child; no more restarts */
static void stop_all(struct sup *sp, int sig)
{
	sp->stopping = sig;
	for (int i = 0; i < sp->o->n; i++) {
		struct slot *s = &sp->slots[i];
		s->restart_at = 0;
		if (s->pid > 0)
			kill(s->pid, sig);
	}
}

/* died - slot k's child ended with status: collect its totals, decide
 * whether it is done or restarted; returns -1 when the supervisor gives up */
static int died(struct sup *sp, int k, int status)
{
	struct slot *s = &sp->slots[k];
	int64_t now = mono_ms(), lived = now - s->started;
	pid_t pid = s->pid;
	struct worker_totals t;
	char what[128];
	if (s->rfd >= 0) {
		if (read(s->rfd, &t, sizeof(t)) == (ssize_t)sizeof(t))
			totals_add(sp->sum, &t);
		close(s->rfd);
		s->rfd = -1;
	}
	s->pid = 0;
	describe(status, what, sizeof(what));
	int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (sp->stopping) {
		/* death by the forwarded signal itself (before the child's own
		 * handler was in place) is the stop that was asked for */
		if (WIFSIGNALED(status) && WTERMSIG(status) == sp->stopping)
			clean = 1;
		s->status = clean ? 0 : 1;
		if (!clean)
			log_warn("worker pid %d %s while stopping", (int)pid, what);
		return 0;
	}
	if (sp->o->once && WIFEXITED(status)) {
		/* a one-shot child that ended by itself has reported its outcome */
		s->status = WEXITSTATUS(status);
		if (!clean)
			log_warn("worker pid %d %s", (int)pid, what);
		return 0;
	}
	if (clean)
		snprintf(what, sizeof(what), "exited with status 0 without being asked to stop");
	s->quick = lived < QUICK_MS ? s->quick + 1 : 0;
	if (lived >= BACKOFF_RESET_MS)
		s->backoff = BACKOFF_FIRST_MS;
	if (s->quick >= QUICK_GIVE_UP) {
		log_error("worker pid %d %s; a worker died within 1 s of its start %d times in a "
			  "row, giving up",
			  (int)pid, what, s->quick);
		return -1;
	}
	log_warn("worker pid %d %s; restarting in %lld s", (int)pid, what,
		 (long long)(s->backoff / 1000));
	s->restart_at = now + s->backoff;
	s->backoff = s->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff * 2;
	return 0;
}

/* reap - every child that has ended; -1 when the supervisor gives up */
static int reap(struct sup *sp)
{
	int status, rc = 0;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < sp->o->n; i++)
			if (sp->slots[i].pid == pid) {
				if (died(sp, i, status) < 0)
					rc = -1;
				break;
			}
	}
	return rc;
}

int supervisor_run(const struct supervisor_opts *o, supervisor_child fn, void *arg,
		   struct worker_totals *sum, int *stopped)
{
	struct sup sp = {.o = o, .fn = fn, .arg = arg, .sum = sum, .self = getpid()};
	int gave_up = 0;
	memset(sum, 0, sizeof(*sum));
	*stopped = 0;
	sp.slots = xcalloc((size_t)o->n, sizeof(*sp.slots));
	for (int i = 0; i < o->n; i++) {
		sp.slots[i].rfd = -1;
		sp.slots[i].backoff = BACKOFF_FIRST_MS;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &sp.orig);
	struct sigaction sa, old_chld;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, &old_chld);

	for (int i = 0; i < o->n; i++)
		start(&sp, i);
	log_info("supervisor: pid %d runs %d workers%s", (int)sp.self, o->n,
		 o->once ? " once" : "");
	for (;;) {
		if (reap(&sp) < 0 && !gave_up) {
			gave_up = 1;
			stop_all(&sp, SIGTERM);
		}
		int64_t now = mono_ms(), next = 0;
		int live = 0;
		for (int i = 0; i < o->n; i++) {
			struct slot *s = &sp.slots[i];
			if (!sp.stopping && s->restart_at && s->restart_at <= now)
				start(&sp, i);
			if (s->pid > 0)
				live++;
			if (s->restart_at && (!next || s->restart_at < next))
				next = s->restart_at;
		}
		if (!live && !next)
			break;
		int64_t wait = next ? next - now : 1000;
		if (wait > 1000)
			wait = 1000; /* a lost SIGCHLD costs a second at most */
		if (wait < 1)
			wait = 1;
		struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000};
		int sig = sigtimedwait(&set, NULL, &ts);
		if ((sig == SIGTERM || sig == SIGINT) && !sp.stopping) {
			*stopped = 1;
			log_info("supervisor: %s: stopping %d workers", sig == SIGTERM ? "SIGTERM" : "SIGINT",
				 live);
			stop_all(&sp, sig);
		} else if ((sig == SIGTERM || sig == SIGINT) && sp.stopping) {
			for (int i = 0; i < o->n; i++) /* a second signal: say it again */
				if (sp.slots[i].pid > 0)
					kill(sp.slots[i].pid, sig);
		}
	}
	int rc = 0;
	for (int i = 0; i < o->n; i++)
		if (sp.slots[i].status > rc)
			rc = sp.slots[i].status;
	if (gave_up)
		rc = 1;
	else if (*stopped && rc)
		rc = 1;
	free(sp.slots);
	/* a signal that came after the last child ended must not kill the
	 * caller when the mask goes back: take it now */
	struct timespec zero = {0, 0};
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
	sigaction(SIGCHLD, &old_chld, NULL);
	sigprocmask(SIG_SETMASK, &sp.orig, NULL);
	return rc;
}
