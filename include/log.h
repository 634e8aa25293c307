/* log.h - one line per message on stderr: "outreach: LEVEL: text" */
#ifndef OUTREACH_LOG_H
#define OUTREACH_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
/* log_set_pii - whether log lines may name a person's address (the
 * config's log_pii; default no); log_pii - the setting */
void log_set_pii(int allowed);
int log_pii(void);
/* log_fatal - start-up failures only: print and exit(code) */
void log_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* log_panic - a broken invariant: print and abort() */
void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
