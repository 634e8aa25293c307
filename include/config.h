/* config.h - config/outreach.yaml loaded into plain structs (libfyaml).
 *
 * Every element keeps the line it came from so problems can be reported as
 * FILE:LINE. The whole document is also kept as JSON (`doc`) with a line
 * table, so modules added later (policies, transports' own options) read
 * and report their own keys without changing this loader.
 */
#ifndef OUTREACH_CONFIG_H
#define OUTREACH_CONFIG_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "contact.h"
#include "diag.h"

struct expr;

struct transport_conf {
	char *name;   /* the key under transports: */
	char *kind;   /* smtp | http | webhook | outbox */
	enum channel_kind channel; /* `channel:`, else implied by kind */
	char *to;     /* contact field or attribute holding the address; NULL for
	               * a chat webhook to a group (no address needed) */
	json_t *opts; /* the transport's mapping as JSON (values with ${ENV}
	               * already expanded), borrowed from the config */
	const char *pointer; /* JSON pointer of that mapping in doc, for config_line */
	int line;
};

struct segment_conf {
	char *name;
	char *source;       /* the expression text */
	struct expr *expr;  /* parsed; NULL when it did not parse */
	int line;
};

/* The question a survey link asks (`survey:` on a campaign or a step). */
enum survey_scale {
	SURVEY_NONE = 0, /* not set: a step takes its campaign's; nps when neither says */
	SURVEY_NPS,	 /* 0 to 10, "how likely are you to recommend us" */
	SURVEY_CSAT,	 /* 1 to 5, "how satisfied are you" */
};

struct variant_conf {
	char *template;
	double share; /* 0..1; the shares of a step add up to 1 */
};

/* When a step goes out within the contact's day (`send_at:`). */
enum send_at {
	SEND_AT_AFTER = 0, /* at trigger + after (send_at absent) */
	SEND_AT_BEST,      /* `best`: within the contact's usual hour (sendtime.h) */
	SEND_AT_CLOCK,     /* "HH:MM": the first such local time >= trigger + after */
};

struct step_conf {
	int index;          /* 0-based position in steps: */
	enum survey_scale survey; /* `survey: nps | csat`; SURVEY_NONE: the campaign's */
	int64_t after;      /* seconds after the trigger; 0 when omitted */
	char **channels;    /* transport names in preference order */
	size_t nchannels;
	char *template;     /* NULL when variants are given */
	struct variant_conf *variants;
	size_t nvariants;
	int64_t expire;     /* seconds after due; 0 = never */
	char **unless;      /* event types that cancel this step */
	size_t nunless;
	enum send_at send_at;
	int send_minute;    /* SEND_AT_CLOCK: the local time as minute of the day */
	int line;
};

struct campaign_conf {
	char *name;
	enum msg_class cls;        /* default marketing */
	char *trigger_event;       /* trigger: {event: T} */
	json_t *trigger_where;     /* trigger: {event: T, where: {k: v}} data match, or
	                            * NULL; borrowed from the config's doc */
	char *trigger_segment;     /* trigger: {segment: S} */
	int64_t trigger_every;     /* trigger: {every: 30d, segment: S}; 0 = not recurring */
	char *goal_event;          /* goal: {event: E, within: 30d}, or NULL */
	int64_t goal_within;       /* seconds; 30d when the goal omits within */
	double holdout;            /* 0..0.5 */
	enum survey_scale survey;  /* `survey: nps | csat`; SURVEY_NONE when not a survey */
	int max_per_contact;       /* enrollments of one contact, ever; 0 = no limit */
	int64_t reentry;           /* seconds before a contact may enroll again; 0 = any time */
	int send_hour;             /* `send_at: best` without history: local minute of the
	                            * day (send_hour: "10:00" is 600, the default) */
	const char *timezone;      /* the config's timezone (borrowed): the zone of a
	                            * contact without one, for send_at */
	struct step_conf *steps;
	size_t nsteps;
	int line;
};

/* stats: thresholds of the RFM scores (stats.h), each four ascending
 * numbers; the defaults unless the config's `stats: {rfm: ...}` says */
struct stats_conf {
	double recency_days[4]; /* R is 5 at or under [0] days since the last
				 * purchase, 4 at or under [1], 3 [2], 2 [3], else 1 */
	double frequency[4];	/* F is 1, then 2 from [0] purchases in 12 months,
				 * 3 from [1], 4 from [2], 5 from [3] */
	double monetary[4];	/* M likewise from the spend in 12 months */
};

/* serve: the HTTP server's limits and its user (httpd.h, cmd_serve.c); the
 * defaults below unless the config's `serve:` says otherwise */
#define SERVE_RATE_DEFAULT 50.0	     /* requests per second per client address */
#define SERVE_MAX_CONNECTIONS_DEFAULT 512
#define SERVE_MAX_PER_IP_DEFAULT 32
#define SERVE_TIMEOUT_DEFAULT 15 /* seconds a connection may sit idle */
struct serve_conf {
	char *user;	 /* `user:`; NULL: `nobody` when started as root (ignored
			  * when not started as root) */
	double rate;	 /* `rate: 50/s`: requests per second per client address;
			  * 0 (`rate: off`) = no limit */
	double burst;	 /* `burst: 100`: requests one address may make at once;
			  * default twice the per-second rate, at least 1 */
	unsigned max_connections;	 /* `max_connections: 512`: at once, in all */
	unsigned max_connections_per_ip; /* `max_connections_per_ip: 32` */
	int64_t timeout;		 /* `timeout: 15s`: idle seconds before a close */
	char **trusted_proxies;		 /* `trusted_proxies: [ADDR or CIDR, ...]`:
					  * peers whose X-Forwarded-For names the client;
					  * validated (inet_pton) */
	size_t ntrusted_proxies;
};

struct config {
	char *path;              /* as given */
	char *store;             /* path or postgresql:// URL */
	char *templates;         /* folder */
	char *timezone;          /* default zone, validated */
	char *tracking_base_url; /* default http://127.0.0.1:8080 */
	char *tracking_secret_env; /* default OUTREACH_SECRET */
	struct transport_conf *transports;
	size_t ntransports;
	struct segment_conf *segments; /* in file order */
	size_t nsegments;
	struct campaign_conf *campaigns;
	size_t ncampaigns;
	struct stats_conf stats; /* `stats:`, else the defaults */
	struct serve_conf serve; /* `serve:`, else the defaults */
	int encrypt;             /* `encrypt:` true: names and addresses sealed at rest */
	char *encrypt_key_env;   /* `encrypt: {key_env: NAME}`, default OUTREACH_KEY;
	                          * older keys in NAME_OLD (pii.h) */
	int log_pii;             /* `log_pii: true`: logs may name addresses */
	json_t *doc;             /* the whole file as JSON, owned */
	json_t *lines;           /* JSON pointer -> line, owned */
};

/* config_load - read and validate path. Every problem goes to d as
 * "FILE:LINE: message" (syntax errors as libfyaml reports them). Returns
 * the config when it could be read at all (check d->errors before using
 * it), NULL when the file cannot be read or parsed as YAML. */
struct config *config_load(const char *path, struct diag *d);
/* config_load_mem - the same for len bytes of YAML at data (need not be
 * NUL-terminated); name stands for the file in messages (fuzz targets) */
struct config *config_load_mem(const char *name, const char *data, size_t len, struct diag *d);
void config_free(struct config *c);

/* config_percent - a share written "10%", "12.5%", 0.1 or "0.1" into *out
 * (0..1); 0 ok, -1 when it is not one or is out of range */
int config_percent(const json_t *v, double *out);

/* config_line - the line of the node at a JSON pointer ("/transports/sms/rate"),
 * or of its nearest ancestor that has one; 0 when none */
int config_line(const struct config *c, const char *pointer);

const struct transport_conf *config_transport(const struct config *c, const char *name);
const struct segment_conf *config_segment(const struct config *c, const char *name);
const struct campaign_conf *config_campaign(const struct config *c, const char *name);

/* config_survey - the survey scale of a campaign's step (0-based): the
 * step's `survey`, else the campaign's, else SURVEY_NONE (also for an
 * unknown campaign or step) */
enum survey_scale config_survey(const struct config *c, const char *campaign, int step);
/* config_survey_name - "nps", "csat", or NULL for SURVEY_NONE */
const char *config_survey_name(enum survey_scale s);

#endif
