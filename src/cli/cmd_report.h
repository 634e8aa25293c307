/* cmd_report.h - the funnel `report` computes, shared by its writers
 * (cmd_report.c: table, json, csv; cmd_report_html.c: html) */
#ifndef OUTREACH_CMD_REPORT_H
#define OUTREACH_CMD_REPORT_H
#include <stdint.h>
#include <stdio.h>

/* a send's current state; "sent" and "delivered" count differently (below) */
enum report_state {
	RS_SCHEDULED,
	RS_DEFERRED,
	RS_SENDING,
	RS_SENT,
	RS_DELIVERED,
	RS_FAILED,
	RS_BOUNCED,
	RS_SUPPRESSED,
	RS_EXPIRED,
	RS_CANCELLED,
	RS_N
};
extern const char *const report_state_names[RS_N];

/* Counts of one group of sends. state[RS_SENT] is every send that went out
 * (sent_at set), whatever became of it; state[RS_DELIVERED] those of them
 * with a delivery receipt (state delivered or a delivered event); the other
 * states are the sends' current state. */
struct report_counts {
	int64_t state[RS_N];
	int64_t total;      /* sends in the group, in any state */
	int64_t opened;     /* sends with an opened event (machine opens per the option) */
	int64_t clicked, replied, unsubscribed; /* sends with such an event */
	int64_t converted;  /* sends whose enrollment reached the goal */
	int64_t sent_email; /* of state[RS_SENT], those on email: the open rate's base */
	int64_t receipts;   /* sent sends with a receipt either way (delivered, bounced,
	                     * failed after going out) */
	int64_t sent_receipted; /* of state[RS_SENT], those on a channel that had any
	                         * receipt in the report: the delivery rate's base */
};

enum report_rate { RR_DELIVERY, RR_OPEN, RR_CLICK, RR_REPLY, RR_UNSUBSCRIBE, RR_CONVERSION, RR_N };
extern const char *const report_rate_names[RR_N]; /* "delivery_rate", ... */

/* report_rates - the rates of c, 0..1, or -1 where there is none: delivery
 * on channels without any receipt, open without email sent, conversion
 * without a goal (has_goal 0), any rate over zero */
void report_rates(const struct report_counts *c, int has_goal, double out[RR_N]);

/* one row: campaign, step, channel, template, variant and segment */
struct report_line {
	char *campaign, *channel, *template, *variant, *segment; /* "" for none */
	int step; /* 1-based */
	int has_goal;
	struct report_counts c;
};

struct report_variant {
	char *name;
	int64_t treated, converted; /* enrollments not held out, and how many reached the goal */
	struct report_counts c;     /* its sends, every step */
};

struct report_campaign {
	char *name;
	const char *goal;     /* goal event type, NULL when the config gives none */
	int64_t goal_within;  /* seconds */
	double holdout_share; /* configured, 0..0.5; -1 when not in the config */
	int64_t treated, treated_converted;
	int64_t holdout, holdout_converted;
	struct report_counts c; /* its sends, every step */
	struct report_variant *variants;
	size_t nvariants;
};

/* conversion rates and lift of a campaign (or of a variant, against the
 * campaign's holdout); a rate is -1 where there is none */
struct report_lift {
	double treated_rate, holdout_rate;
	int has_points, has_relative;
	double points;   /* (treated - holdout) * 100: percentage points */
	double relative; /* (treated - holdout) / holdout */
};
void report_lift(const struct report_campaign *c, int64_t treated, int64_t converted,
		 struct report_lift *out);

struct report_day {
	char date[16]; /* YYYY-MM-DD, local to the report's zone */
	int64_t sent, replied;
};

struct report {
	const char *campaign_filter; /* NULL: all */
	int64_t since;               /* INT64_MIN: all time */
	const char *zone;            /* days are local to it */
	int machine_opens;           /* machine opens and clicks counted */
	struct report_line *lines;
	size_t nlines;
	struct report_campaign *campaigns;
	size_t ncampaigns;
	struct report_day *days; /* every day from the first send or reply to the last */
	size_t ndays;
};

/* report_html_write - the report as one self-contained HTML page (inline
 * CSS and SVG, no script, no external reference); every value escaped */
void report_html_write(FILE *out, const struct report *r);

#endif
