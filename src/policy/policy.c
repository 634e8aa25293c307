/* policy.c - the policy set of a config, validated whole.
 *
 * Reads policies.quiet_hours / quiet_days, the same two keys on each
 * campaign and each transport (the most specific level wins), the caps
 * under policies.caps (marketing, transactional, all: {max, per, min_gap}),
 * and each transport's rate, burst and domain_rate. Every problem is
 * reported with the line of the offending key (config_line), so `check`
 * prints them all and the worker refuses to start on any. Nothing here
 * reads the clock or the store: the worker asks and applies.
 */
#include "policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DOMAIN_RATES_MAX 64

struct domain_rate {
	char *domain; /* "*" for every domain without its own */
	struct rate_rule rate;
};

struct policy {
	struct quiet global;
	int has_global;
	struct quiet *camp; /* by campaign index */
	int *has_camp;
	struct quiet *tr;   /* by transport index */
	int *has_tr;
	struct cap_rule caps[3];
	size_t ncaps;
	struct rate_rule *rate; /* by transport; per_sec 0: none */
	struct domain_rate **drates;
	size_t *ndrates;
	size_t ncampaigns, ntransports;
};

struct ctx {
	const struct config *cfg;
	struct diag *d;
};

static void bad(struct ctx *c, const char *ptr, const char *fmt, const char *msg)
{
	diag_error(c->d, c->cfg->path, config_line(c->cfg, ptr), fmt, msg);
}

/* load_quiet - quiet_hours/quiet_days of the mapping o at pointer base */
static int load_quiet(struct ctx *c, json_t *o, const char *base, const char *what,
		      struct quiet *q)
{
	json_t *h = json_object_get(o, "quiet_hours"), *days = json_object_get(o, "quiet_days");
	if ((!h || json_is_null(h)) && (!days || json_is_null(days)))
		return 0;
	struct err e = {{0}};
	if (quiet_parse(h, days, q, &e) < 0) {
		char ptr[512];
		snprintf(ptr, sizeof(ptr), "%s/%s", base,
			 strstr(e.msg, "quiet_days") ? "quiet_days" : "quiet_hours");
		char msg[700];
		snprintf(msg, sizeof(msg), "%s: %s", what, e.msg);
		bad(c, ptr, "%s", msg);
		return -1;
	}
	return 1;
}

int rate_parse(const char *s, double burst, struct rate_rule *r, struct err *e)
{
	char *end;
	double n = strtod(s, &end);
	double unit = 0;
	if (end != s && *end == '/') {
		if (strcmp(end, "/s") == 0)
			unit = 1;
		else if (strcmp(end, "/m") == 0 || strcmp(end, "/min") == 0)
			unit = 60;
		else if (strcmp(end, "/h") == 0)
			unit = 3600;
		else if (strcmp(end, "/d") == 0)
			unit = 86400;
	}
	if (unit == 0 || !isfinite(n))
		return err_set(e, "bad rate \"%s\" (use 50/s, 600/m, 1000/h or 5000/d)", s);
	if (n <= 0)
		return err_set(e, "rate \"%s\" must be more than 0", s);
	memset(r, 0, sizeof(*r));
	r->per_sec = n / unit;
	r->burst = burst > 0 ? burst : (r->per_sec < 1 ? 1 : ceil(r->per_sec));
	snprintf(r->text, sizeof(r->text), "%s", s);
	return 0;
}

static void load_rates(struct ctx *c, struct policy *p, size_t ti)
{
	const struct transport_conf *tc = &c->cfg->transports[ti];
	json_t *o = tc->opts;
	char ptr[512];
	double burst = 0;
	struct err e = {{0}};
	json_t *b = json_object_get(o, "burst"), *r = json_object_get(o, "rate");
	if (b && !json_is_null(b)) {
		snprintf(ptr, sizeof(ptr), "%s/burst", tc->pointer);
		if (!json_is_integer(b) || json_integer_value(b) < 1 ||
		    json_integer_value(b) > 1000000)
			bad(c, ptr, "transport \"%s\": burst must be a whole number of at least 1",
			    tc->name);
		else
			burst = (double)json_integer_value(b);
		if (!r || json_is_null(r))
			bad(c, ptr, "transport \"%s\": burst needs a rate", tc->name);
	}
	if (r && !json_is_null(r)) {
		snprintf(ptr, sizeof(ptr), "%s/rate", tc->pointer);
		char msg[600];
		if (!json_is_string(r)) {
			snprintf(msg, sizeof(msg), "transport \"%s\": rate must be like 50/s",
				 tc->name);
			bad(c, ptr, "%s", msg);
		} else if (rate_parse(json_string_value(r), burst, &p->rate[ti], &e) < 0) {
			snprintf(msg, sizeof(msg), "transport \"%s\": %s", tc->name, e.msg);
			bad(c, ptr, "%s", msg);
		}
	}
	json_t *dr = json_object_get(o, "domain_rate");
	if (!dr || json_is_null(dr))
		return;
	snprintf(ptr, sizeof(ptr), "%s/domain_rate", tc->pointer);
	if (tc->channel != CHANNEL_EMAIL) {
		bad(c, ptr, "transport \"%s\": domain_rate is for email transports", tc->name);
		return;
	}
	json_t *map = json_is_string(dr) ? json_pack("{sO}", "*", dr) : json_incref(dr);
	if (!json_is_object(map)) {
		bad(c, ptr, "transport \"%s\": domain_rate must be like 20/s or a mapping of "
			    "domain to rate", tc->name);
		json_decref(map);
		return;
	}
	const char *dom;
	json_t *v;
	p->drates[ti] = xcalloc(json_object_size(map) + 1, sizeof(struct domain_rate));
	json_object_foreach(map, dom, v) {
		char msg[600];
		struct domain_rate *x = &p->drates[ti][p->ndrates[ti]];
		if (p->ndrates[ti] >= DOMAIN_RATES_MAX) {
			bad(c, ptr, "%s", "domain_rate: too many domains (at most 64)");
			break;
		}
		if (!json_is_string(v) || rate_parse(json_string_value(v), 0, &x->rate, &e) < 0) {
			snprintf(msg, sizeof(msg), "transport \"%s\": domain_rate %s: %s", tc->name,
				 dom, json_is_string(v) ? e.msg : "must be like 20/s");
			bad(c, ptr, "%s", msg);
			continue;
		}
		x->domain = xstrdup(dom);
		p->ndrates[ti]++;
	}
	json_decref(map);
}

static const struct {
	const char *name;
	enum cap_scope scope;
} cap_names[] = {{"marketing", CAP_MARKETING}, {"transactional", CAP_TRANSACTIONAL}, {"all", CAP_ALL}};

static void load_caps(struct ctx *c, struct policy *p, json_t *caps)
{
	if (!caps || json_is_null(caps))
		return;
	if (!json_is_object(caps)) {
		bad(c, "/policies/caps", "%s",
		    "caps must map marketing, transactional or all to {max, per, min_gap}");
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach(caps, k, v) {
		char ptr[256], msg[600];
		size_t i;
		for (i = 0; i < 3 && strcmp(cap_names[i].name, k) != 0; i++)
			;
		snprintf(ptr, sizeof(ptr), "/policies/caps/%s", k);
		if (i == 3) {
			snprintf(msg, sizeof(msg),
				 "unknown cap \"%s\" (use marketing, transactional or all)", k);
			bad(c, ptr, "%s", msg);
			continue;
		}
		struct cap_rule *r = &p->caps[p->ncaps];
		*r = (struct cap_rule){.name = cap_names[i].name, .scope = cap_names[i].scope};
		if (!json_is_object(v)) {
			snprintf(msg, sizeof(msg), "cap %s must be {max: N, per: 7d} or {min_gap: 12h}",
				 k);
			bad(c, ptr, "%s", msg);
			continue;
		}
		int ok = 1;
		const char *key;
		json_t *x;
		json_object_foreach(v, key, x) {
			char kp[300];
			snprintf(kp, sizeof(kp), "%s/%s", ptr, key);
			int64_t secs;
			if (strcmp(key, "max") == 0) {
				if (!json_is_integer(x) || json_integer_value(x) < 1) {
					snprintf(msg, sizeof(msg),
						 "cap %s: max must be a whole number of at least 1", k);
					bad(c, kp, "%s", msg);
					ok = 0;
				} else {
					r->max = json_integer_value(x);
				}
			} else if (strcmp(key, "per") == 0 || strcmp(key, "min_gap") == 0) {
				if (!json_is_string(x) || duration_parse(json_string_value(x), &secs) < 0 ||
				    secs <= 0) {
					snprintf(msg, sizeof(msg),
						 "cap %s: bad duration for %s (use 12h, 7d, 30d)", k, key);
					bad(c, kp, "%s", msg);
					ok = 0;
				} else if (key[0] == 'p') {
					r->per = secs;
				} else {
					r->min_gap = secs;
				}
			} else {
				snprintf(msg, sizeof(msg),
					 "cap %s: unknown key \"%s\" (use max, per, min_gap)", k, key);
				bad(c, kp, "%s", msg);
				ok = 0;
			}
		}
		if (ok && (r->max > 0) != (r->per > 0)) {
			snprintf(msg, sizeof(msg), "cap %s: max and per go together", k);
			bad(c, ptr, "%s", msg);
			ok = 0;
		}
		if (ok && !r->max && !r->min_gap) {
			snprintf(msg, sizeof(msg), "cap %s: give max and per, or min_gap", k);
			bad(c, ptr, "%s", msg);
			ok = 0;
		}
		if (ok)
			p->ncaps++;
	}
}

struct policy *policy_create(const struct config *cfg, struct diag *d)
{
	struct ctx c = {cfg, d};
	int errors = d->errors;
	struct policy *p = xcalloc(1, sizeof(*p));
	p->ncampaigns = cfg->ncampaigns;
	p->ntransports = cfg->ntransports;
	p->camp = xcalloc(cfg->ncampaigns + 1, sizeof(*p->camp));
	p->has_camp = xcalloc(cfg->ncampaigns + 1, sizeof(*p->has_camp));
	p->tr = xcalloc(cfg->ntransports + 1, sizeof(*p->tr));
	p->has_tr = xcalloc(cfg->ntransports + 1, sizeof(*p->has_tr));
	p->rate = xcalloc(cfg->ntransports + 1, sizeof(*p->rate));
	p->drates = xcalloc(cfg->ntransports + 1, sizeof(*p->drates));
	p->ndrates = xcalloc(cfg->ntransports + 1, sizeof(*p->ndrates));
	json_t *pol = json_object_get(cfg->doc, "policies");
	if (pol && !json_is_null(pol) && !json_is_object(pol)) {
		bad(&c, "/policies", "%s", "policies must be a mapping");
	} else if (pol) {
		const char *k;
		json_t *v;
		json_object_foreach(pol, k, v) {
			if (strcmp(k, "quiet_hours") && strcmp(k, "quiet_days") && strcmp(k, "caps")) {
				char ptr[300], msg[300];
				snprintf(ptr, sizeof(ptr), "/policies/%s", k);
				snprintf(msg, sizeof(msg),
					 "unknown key \"%s\" in policies (use quiet_hours, "
					 "quiet_days, caps)", k);
				bad(&c, ptr, "%s", msg);
			}
		}
		p->has_global = load_quiet(&c, pol, "/policies", "policies", &p->global) > 0;
		load_caps(&c, p, json_object_get(pol, "caps"));
	}
	json_t *camps = json_object_get(cfg->doc, "campaigns");
	for (size_t i = 0; i < cfg->ncampaigns; i++) {
		char base[300], what[300];
		snprintf(base, sizeof(base), "/campaigns/%s", cfg->campaigns[i].name);
		snprintf(what, sizeof(what), "campaign \"%s\"", cfg->campaigns[i].name);
		json_t *o = json_object_get(camps, cfg->campaigns[i].name);
		if (json_is_object(o))
			p->has_camp[i] = load_quiet(&c, o, base, what, &p->camp[i]) > 0;
	}
	for (size_t i = 0; i < cfg->ntransports; i++) {
		const struct transport_conf *tc = &cfg->transports[i];
		char what[300];
		snprintf(what, sizeof(what), "transport \"%s\"", tc->name);
		if (json_is_object(tc->opts)) {
			p->has_tr[i] = load_quiet(&c, tc->opts, tc->pointer, what, &p->tr[i]) > 0;
			load_rates(&c, p, i);
		}
	}
	if (d->errors > errors) {
		policy_free(p);
		return NULL;
	}
	return p;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	quiet_release(&p->global);
	for (size_t i = 0; i < p->ncampaigns; i++)
		quiet_release(&p->camp[i]);
	for (size_t i = 0; i < p->ntransports; i++) {
		quiet_release(&p->tr[i]);
		for (size_t k = 0; k < p->ndrates[i]; k++)
			free(p->drates[i][k].domain);
		free(p->drates[i]);
	}
	free(p->camp);
	free(p->has_camp);
	free(p->tr);
	free(p->has_tr);
	free(p->rate);
	free(p->drates);
	free(p->ndrates);
	free(p);
}

const struct quiet *policy_quiet_for(const struct policy *p, size_t ci, size_t ti,
				     const char **level)
{
	if (ti < p->ntransports && p->has_tr[ti]) {
		*level = "transport";
		return &p->tr[ti];
	}
	if (ci < p->ncampaigns && p->has_camp[ci]) {
		*level = "campaign";
		return &p->camp[ci];
	}
	*level = "policies";
	return p->has_global ? &p->global : NULL;
}

size_t policy_caps(const struct policy *p, int priority, const struct cap_rule **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < p->ncaps && n < max; i++)
		if (p->caps[i].scope == CAP_ALL || (int)p->caps[i].scope == priority)
			out[n++] = &p->caps[i];
	return n;
}

const struct rate_rule *policy_rate(const struct policy *p, size_t ti)
{
	return ti < p->ntransports && p->rate[ti].per_sec > 0 ? &p->rate[ti] : NULL;
}

const struct rate_rule *policy_domain_rate(const struct policy *p, size_t ti, const char *dom)
{
	const struct rate_rule *any = NULL;
	for (size_t i = 0; ti < p->ntransports && i < p->ndrates[ti]; i++) {
		if (strcasecmp(p->drates[ti][i].domain, dom) == 0)
			return &p->drates[ti][i].rate;
		if (strcmp(p->drates[ti][i].domain, "*") == 0)
			any = &p->drates[ti][i].rate;
	}
	return any;
}
