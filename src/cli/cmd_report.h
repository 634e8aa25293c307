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

/* Survey answers of one group of sends. A send is surveyed when it went
 * out and its step has `survey:` (or its campaign has), or when it got an
 * answer all the same (a template with {{survey_url}} elsewhere). An
 * answer is `survey_response` naming the send, the first one; its data
 * says the scale ("scale": "csat": 1 to 5; none: 0 to 10). */
struct report_survey {
	int64_t sent;				 /* surveyed sends that went out */
	int64_t responses;			 /* of them, answered */
	int64_t promoters, passives, detractors; /* 0 to 10 answers: 9-10, 7-8, 0-6 */
	int64_t csat_n, csat_good, csat_sum;	 /* 1 to 5 answers, those of 4-5, their sum */
};

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
	struct report_survey survey;
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
 * campaign's holdout); a rate is -1 where there is none. The intervals are
 * 95%: Wilson score intervals for each rate, and Newcombe's hybrid score
 * interval (from the two Wilson intervals) for the difference. */
struct report_lift {
	double treated_rate, holdout_rate;
	int has_points, has_relative;
	double points;   /* (treated - holdout) * 100: percentage points */
	double relative; /* (treated - holdout) / holdout */
	int has_treated_ci, has_holdout_ci, has_lift_ci;
	double treated_ci[2], holdout_ci[2]; /* 0..1 */
	double lift_ci[2];		     /* of treated - holdout, -1..1 */
};
void report_lift(const struct report_campaign *c, int64_t treated, int64_t converted,
		 struct report_lift *out);

struct report_day {
	char date[16]; /* YYYY-MM-DD, local to the report's zone */
	int64_t sent, replied;
};

/* survey_rates - the rates of a report_survey; each -1 where there is
 * none, but nps, which has has_nps */
struct survey_rates {
	double response_rate; /* responses / sent */
	int has_nps;	      /* there are 0 to 10 answers */
	double nps;	      /* % promoters - % detractors of the 0 to 10 answers: -100..100 */
	double csat;	      /* share of 1 to 5 answers that are 4 or 5: 0..1 */
	double csat_mean;     /* mean 1 to 5 answer */
};
void survey_rates(const struct report_survey *s, struct survey_rates *out);

/* the survey answers of a campaign (or of every campaign: campaign "")
 * from contacts in one segment ("" none; NULL every segment) */
struct report_survey_line {
	char *campaign, *segment;
	struct report_survey s;
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
	/* per campaign then per segment (config order, "" last), each campaign's
	 * total first (segment NULL); then the same over every campaign
	 * (campaign ""); only campaigns with surveyed sends, none when none */
	struct report_survey_line *surveys;
	size_t nsurveys;
};

/* report_html_write - the report as one self-contained HTML page (inline
 * CSS and SVG, no script, no external reference); every value escaped */
void report_html_write(FILE *out, const struct report *r);

#endif
