/* stats.h - computed attributes: what a contact's own events say about them,
 * named stats.NAME in segment expressions and templates.
 *
 * Every stat is a function of the contact's events in windows that end at
 * now, read through the aggregates that count(), sum() and last() use
 * (struct expr_env), so time alone changes one only when an event leaves a
 * window or a day passes, and expr_eval's next_change stays exact for them.
 * A purchase is a `purchase` event with a numeric data.amount.
 *
 *   spend_12m            sum(purchase.amount, 365d)
 *   purchases_12m        count(purchase, 365d)
 *   frequency_90d        count(purchase, 90d) / 3: purchases per 30 days
 *   avg_order_value      spend_12m / purchases_12m; null without purchases
 *   days_since_purchase  days_since(last(purchase)); null when none
 *   frequency_change     purchases in the last 90 days against the 90 days
 *                        before: (recent - earlier) / earlier, -1 .. +inf;
 *                        null when there were no earlier purchases
 *   amount_change        the same for the amounts; null when the earlier
 *                        amounts do not add up to more than 0
 *   interaction_change   the same for replies and clicks (`replied` and
 *                        `clicked` events together); null when none before
 *   complaints_30d       count(complaint, 30d)
 *   days_since_reply     days_since(last(replied)); null when none
 *   days_since_click     days_since(last(clicked)); null when none
 *   rfm_r, rfm_f, rfm_m  1..5 each by the fixed thresholds of struct
 *                        stats_conf (config.h): recency from
 *                        days_since_purchase, frequency from purchases_12m,
 *                        monetary from spend_12m; null when the contact
 *                        never purchased
 *   rfm                  the three as a string, "545"; null likewise
 *
 * "The last 90 days" is [now - 90d, now] as in count(purchase, 90d); "the
 * 90 days before" is [now - 180d, now - 90d - 1s]. Events dated after now
 * do not count until their time comes.
 */
#ifndef OUTREACH_STATS_H
#define OUTREACH_STATS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "expr.h"
#include "store.h"

enum stats_type { STATS_NULL, STATS_NUM, STATS_STR };

/* One stat at now, with when it may change by time alone. */
struct stats_value {
	enum stats_type type;
	double num;   /* STATS_NUM */
	char str[8];  /* STATS_STR (rfm) */
	int64_t next; /* earliest instant > now at which the value may change
		       * with no new event, TIME_NEVER when it cannot */
	int64_t base; /* a days_since_* stat: the instant it counts from (it
		       * steps by one at base + k days), else TIME_NEVER */
};

/* stats_count - how many stats there are; ids are 0 .. stats_count() - 1 */
size_t stats_count(void);
/* stats_name - the name of stat id, without "stats." ("spend_12m") */
const char *stats_name(size_t id);
/* stats_find - the id of the stat called name (without "stats."), or -1 */
int stats_find(const char *name);

/* stats_conf_default - the built-in RFM thresholds into sc:
 * recency_days 30 90 180 365, frequency 2 3 6 12, monetary 3000 10000
 * 30000 100000 */
void stats_conf_default(struct stats_conf *sc);

/* stats_value - stat id of the contact behind env at now, with the RFM
 * thresholds of conf (NULL: the defaults). Only env's count, sum and last
 * are used. 0, or -1 with e set ("stats.NAME: ...") when a lookup failed. */
int stats_value(size_t id, const struct expr_env *env, const struct stats_conf *conf, int64_t now,
		struct stats_value *out, struct err *e);

/* stats_compute - every stat of contact at now as a JSON object
 * {"spend_12m": 128000, ..., "rfm": "545"}, null for a stat without a
 * value, whole numbers as integers and others rounded to 2 decimals (an
 * expression compares the exact values): for templates
 * ({{stats.spend_12m}}) and `contacts show`. conf NULL: the default
 * thresholds. *out is the caller's (decref). 0, or -1 with e set and *out
 * NULL. */
int stats_compute(struct store *s, const struct stats_conf *conf, const char *contact, int64_t now,
		  json_t **out, struct err *e);

/* stats_context - stats_compute into ctx["stats"] (a render context, see
 * render_context), so templates see {{stats.NAME}}. 0, or -1 with e set
 * (ctx unchanged). */
int stats_context(struct store *s, const struct stats_conf *conf, const char *contact, int64_t now,
		  json_t *ctx, struct err *e);

/* One remembered question to an expr_env (stats_memo). */
struct stats_memo_entry {
	char kind; /* 'c' count, 's' sum, 'l' last */
	char *type, *field;
	int64_t since, until;
	int rc; /* last: 0 found, 1 none */
	int64_t n, oldest, at;
	double total;
};

/* stats_memo - an expr_env (memo.env) that asks inner once per distinct
 * question (count, sum or last with the same arguments) and answers the
 * repeats from memory; attributes and stats thresholds pass through. For
 * evaluating every segment and stat of one contact while its events stay
 * as they are; a failed question is not remembered. */
struct stats_memo {
	struct expr_env env; /* what to evaluate with */
	const struct expr_env *inner;
	struct stats_memo_entry *q;
	size_t n, cap;
	size_t asked; /* questions that reached inner */
};

/* stats_memo_init - m answers through inner (borrowed, kept until release) */
void stats_memo_init(struct stats_memo *m, const struct expr_env *inner);
/* stats_memo_release - forget every answer (m may be initialized again) */
void stats_memo_release(struct stats_memo *m);

#endif
