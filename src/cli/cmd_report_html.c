/* cmd_report_html.c - `report --format html`: the funnel as one page
 *
 * One self-contained file: inline CSS, charts as inline SVG drawn here
 * (a funnel per campaign, the conversion of treated and holdout, sends and
 * replies per day), tables of every row. No script, no font, no image and
 * no URL of any kind, so it renders the same offline in any browser. Every
 * bar is a <rect> with data-series and data-value, so a test (or a reader
 * of the source) can check a chart against the numbers.
 *
 * Security: campaign, template, variant and segment names come from the
 * config and the store; every value is escaped for HTML text and
 * attributes (& < > " '), control characters are dropped and bytes that
 * are not UTF-8 become U+FFFD, so nothing in the data can become markup.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_report.h"
#include "timeutil.h"
#include "str.h"
#include "utf8.h"

/* the series, in funnel order, and their colours */
enum { SER_SENT, SER_DELIVERED, SER_OPENED, SER_CLICKED, SER_REPLIED, SER_CONVERTED, SER_N };
static const char *const ser_name[SER_N] = {"sent",    "delivered", "opened",
					    "clicked", "replied",   "converted"};
static const char *const ser_color[SER_N] = {"#2563eb", "#0891b2", "#7c3aed",
					     "#db2777", "#ea580c", "#16a34a"};
#define HOLDOUT_COLOR "#9ca3af"
#define DAYS_SHOWN 366 /* the daily chart shows at most the last year */

/* esc - s as HTML text or attribute value */
static void esc(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);
	while (n) {
		size_t len = utf8_len(p, n);
		if (!len) {
			fputs("\xef\xbf\xbd", out); /* U+FFFD */
			p++, n--;
			continue;
		}
		const char *ent = str_html_entity(*p);
		if (ent)
			fputs(ent, out);
		else if ((len > 1 || *p >= 0x20 || *p == '\t' || *p == '\n') && *p != 0x7f)
			fwrite(p, 1, len, out); /* other controls are dropped */
		p += len;
		n -= len;
	}
}

/* or_dash - "-" for an empty value */
static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void pct(FILE *out, double v)
{
	if (v < 0)
		fputs("-", out);
	else
		fprintf(out, "%.1f%%", v * 100);
}

/* ci_text - "3.2% to 7.9%" */
static void ci_text(FILE *out, int has, const double v[2])
{
	if (has)
		fprintf(out, "%.1f%% to %.1f%%", v[0] * 100, v[1] * 100);
	else
		fputs("-", out);
}

static void lift_ci_text(FILE *out, const struct report_lift *lf)
{
	if (!lf->has_lift_ci) {
		fputs("-", out);
		return;
	}
	fprintf(out, "%+.1f to %+.1f pts", lf->lift_ci[0] * 100, lf->lift_ci[1] * 100);
	if (lf->lift_ci[0] > 0 || lf->lift_ci[1] < 0)
		fputs(" <strong>(leaves out 0)</strong>", out);
}

static void lift_text(FILE *out, const struct report_lift *lf)
{
	if (!lf->has_points) {
		fputs("-", out);
		return;
	}
	fprintf(out, "%+.1f pts", lf->points);
	if (lf->has_relative)
		fprintf(out, " (%+.0f%%)", lf->relative * 100);
}

static const char style[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','PingFang SC',"
	"'Microsoft YaHei',sans-serif;margin:24px;color:#111827;background:#fff}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px}"
	"h3{font-size:15px;margin:16px 0 6px}"
	".meta{color:#4b5563;font-size:13px;margin:0 0 12px}"
	"table{border-collapse:collapse;font-size:12px;margin:8px 0}"
	"th,td{border:1px solid #e5e7eb;padding:3px 6px;text-align:right;white-space:nowrap}"
	"th{background:#f3f4f6}td.t,th.t{text-align:left}"
	"section.campaign{border-top:2px solid #e5e7eb;margin-top:24px}"
	"svg{display:block;margin:6px 0}svg text{font-size:12px;fill:#374151}"
	".legend{font-size:13px;color:#374151}"
	".legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}"
	".scroll{overflow-x:auto}";

/* bar - one horizontal bar with its label and value */
static void hbar(FILE *out, const char *series, const char *color, const char *label, int64_t v,
		 double max, int64_t of, const char *of_what, int y)
{
	const int x0 = 110, wmax = 460;
	double w = max > 0 ? (double)v / max * wmax : 0;
	fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", x0 - 8, y + 15);
	esc(out, label);
	fprintf(out, "</text><rect class=\"bar\" data-series=\"");
	esc(out, series);
	fprintf(out, "\" data-value=\"%lld\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"20\" "
		     "fill=\"%s\"><title>",
		(long long)v, x0, y, w, color);
	esc(out, label);
	fprintf(out, ": %lld</title></rect><text x=\"%.1f\" y=\"%d\">%lld", (long long)v,
		x0 + w + 6, y + 15, (long long)v);
	if (of > 0)
		fprintf(out, " (%.1f%% of %s)", (double)v * 100 / (double)of, of_what);
	fputs("</text>\n", out);
}

/* funnel - sent, delivered, opened, clicked, replied, converted */
static void funnel(FILE *out, const struct report_campaign *c)
{
	int64_t v[SER_N] = {c->c.state[RS_SENT], c->c.state[RS_DELIVERED], c->c.opened,
			    c->c.clicked,	 c->c.replied,		    c->treated_converted};
	int n = c->goal ? SER_N : SER_N - 1;
	double max = 0;
	for (int i = 0; i < n; i++)
		if (v[i] > max)
			max = (double)v[i];
	int h = 10 + n * 28;
	fprintf(out, "<svg class=\"chart\" data-chart=\"funnel\" data-campaign=\"");
	esc(out, c->name);
	fprintf(out, "\" width=\"640\" height=\"%d\" viewBox=\"0 0 640 %d\" role=\"img\" "
		     "aria-label=\"funnel of ",
		h, h);
	esc(out, c->name);
	fputs("\">\n", out);
	for (int i = 0; i < n; i++)
		hbar(out, ser_name[i], ser_color[i], ser_name[i], v[i], max,
		     i == SER_CONVERTED ? c->treated : i ? v[SER_SENT] : 0,
		     i == SER_CONVERTED ? "enrolled" : "sent", 6 + i * 28);
	fputs("</svg>\n", out);
}

/* goal_chart - conversion rate of the treated group (and each variant)
 * beside the holdout's, as bars of per mille (data-value is the rate) */
static void goal_chart(FILE *out, const struct report_campaign *c)
{
	size_t n = 2 + c->nvariants;
	int h = 10 + (int)n * 28;
	fprintf(out, "<svg class=\"chart\" data-chart=\"goal\" data-campaign=\"");
	esc(out, c->name);
	fprintf(out,
		"\" width=\"760\" height=\"%d\" viewBox=\"0 0 760 %d\" role=\"img\" "
		"aria-label=\"conversion of treated and holdout, with 95%% intervals\">\n",
		h, h);
	for (size_t i = 0; i < n; i++) {
		struct report_lift lf;
		const char *label, *color = ser_color[SER_CONVERTED];
		char series[300];
		if (i == 0) {
			report_lift(c, c->treated, c->treated_converted, &lf);
			label = "treated";
			snprintf(series, sizeof(series), "treated");
		} else if (i == n - 1) {
			report_lift(c, c->treated, c->treated_converted, &lf);
			lf.treated_rate = lf.holdout_rate;
			label = "holdout";
			color = HOLDOUT_COLOR;
			snprintf(series, sizeof(series), "holdout");
		} else {
			const struct report_variant *v = &c->variants[i - 1];
			report_lift(c, v->treated, v->converted, &lf);
			label = v->name;
			color = "#4ade80";
			snprintf(series, sizeof(series), "variant:%s", v->name);
		}
		double rate = lf.treated_rate < 0 ? 0 : lf.treated_rate;
		int has_ci = i == n - 1 ? lf.has_holdout_ci : lf.has_treated_ci;
		const double *civ = i == n - 1 ? lf.holdout_ci : lf.treated_ci;
		int y = 6 + (int)i * 28;
		const int x0 = 110, wmax = 460;
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", x0 - 8, y + 15);
		esc(out, label);
		fputs("</text><rect class=\"bar\" data-series=\"", out);
		esc(out, series);
		fprintf(out, "\" data-value=\"%.6g\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"20\" "
			     "fill=\"%s\"><title>",
			rate, x0, y, rate * wmax, color);
		esc(out, label);
		fputs(": ", out);
		pct(out, lf.treated_rate);
		fputs("</title></rect>", out);
		/* the 95% interval as a whisker across the bar's end */
		double right = x0 + rate * wmax;
		if (has_ci) {
			double a = x0 + civ[0] * wmax, b = x0 + civ[1] * wmax;
			fprintf(
			    out,
			    "<line class=\"ci\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
			    "stroke=\"#111827\" stroke-width=\"1.5\"/>"
			    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#111827\"/>"
			    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
			    "stroke=\"#111827\"/>",
			    a, b, y + 10, y + 10, a, a, y + 5, y + 15, b, b, y + 5, y + 15);
			if (b > right)
				right = b;
		}
		fprintf(out, "<text x=\"%.1f\" y=\"%d\">", right + 6, y + 15);
		pct(out, lf.treated_rate);
		if (has_ci) {
			fputs(" (", out);
			ci_text(out, 1, civ);
			fputs(")", out);
		}
		fputs("</text>\n", out);
	}
	fputs("</svg>\n", out);
}

/* daily - sends and replies per day, side by side */
static void daily(FILE *out, const struct report *r)
{
	size_t first = r->ndays > DAYS_SHOWN ? r->ndays - DAYS_SHOWN : 0, n = r->ndays - first;
	int64_t max = 1;
	for (size_t i = first; i < r->ndays; i++) {
		if (r->days[i].sent > max)
			max = r->days[i].sent;
		if (r->days[i].replied > max)
			max = r->days[i].replied;
	}
	double slot = n ? 720.0 / (double)n : 720;
	if (slot > 48)
		slot = 48;
	const int x0 = 50, top = 10, ph = 200;
	int w = x0 + (int)(slot * (double)n) + 20, h = top + ph + 40;
	if (w < 320)
		w = 320;
	fprintf(out, "<div class=\"scroll\"><svg class=\"chart\" data-chart=\"daily\" width=\"%d\" "
		     "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"sends and "
		     "replies per day\">\n",
		w, h, w, h);
	/* the scale: 0, half, max */
	for (int g = 0; g <= 2; g++) {
		double y = top + ph - ph * g / 2.0;
		fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e7eb\"/>"
			     "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%lld</text>\n",
			x0, w - 10, y, y, x0 - 6, y + 4, (long long)(max * g / 2));
	}
	double bw = slot / 2 - 1 > 0.5 ? slot / 2 - 1 : 0.5;
	size_t every = n > 14 ? (n + 6) / 7 : 1;
	for (size_t i = 0; i < n; i++) {
		const struct report_day *d = &r->days[first + i];
		double x = x0 + slot * (double)i;
		int64_t v[2] = {d->sent, d->replied};
		const char *ser[2] = {"sent", "replied"};
		const char *col[2] = {ser_color[SER_SENT], ser_color[SER_REPLIED]};
		for (int k = 0; k < 2; k++) {
			double bh = (double)v[k] / (double)max * ph;
			fprintf(out, "<rect class=\"bar\" data-series=\"%s\" data-date=\"%s\" "
				     "data-value=\"%lld\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				     "height=\"%.1f\" fill=\"%s\"><title>%s %s: %lld</title></rect>\n",
				ser[k], d->date, (long long)v[k], x + k * (bw + 1), top + ph - bh, bw,
				bh, col[k], d->date, ser[k], (long long)v[k]);
		}
		if (i % every == 0 || i == n - 1)
			fprintf(out, "<text x=\"%.1f\" y=\"%d\">%.5s</text>\n", x, top + ph + 16,
				d->date + 5);
	}
	fputs("</svg></div>\n<p class=\"legend\">", out);
	fprintf(out, "<span style=\"background:%s\"></span>sent <span style=\"background:%s\">"
		     "</span>replied",
		ser_color[SER_SENT], ser_color[SER_REPLIED]);
	if (n)
		fprintf(out, " &middot; %s to %s", r->days[first].date, r->days[r->ndays - 1].date);
	if (first)
		fprintf(out, " (the last %d days of %zu)", DAYS_SHOWN, r->ndays);
	fputs("</p>\n", out);
}

static void th(FILE *out, const char *s, int text)
{
	fputs(text ? "<th class=\"t\">" : "<th>", out);
	esc(out, s);
	fputs("</th>", out);
}

static void td_text(FILE *out, const char *s)
{
	fputs("<td class=\"t\">", out);
	esc(out, or_dash(s));
	fputs("</td>", out);
}

static void td_num(FILE *out, int64_t v)
{
	fprintf(out, "<td>%lld</td>", (long long)v);
}

/* lines - the campaign's rows: counts and rates */
static void lines(FILE *out, const struct report *r, const struct report_campaign *c)
{
	static const char *const counts[] = {"opened", "clicked", "replied", "unsubscribed",
					     "converted"};
	static const char *const rates[RR_N] = {"delivery", "open",	   "click",
						"reply",    "unsubscribe", "conversion"};
	fputs("<div class=\"scroll\"><table class=\"rows\">\n<tr>", out);
	th(out, "step", 0);
	th(out, "channel", 1);
	th(out, "template", 1);
	th(out, "variant", 1);
	th(out, "segment", 1);
	for (size_t k = 0; k < RS_N; k++)
		th(out, report_state_names[k], 0);
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
		th(out, counts[k], 0);
	for (size_t k = 0; k < RR_N; k++)
		th(out, rates[k], 0);
	fputs("</tr>\n", out);
	for (size_t i = 0; i < r->nlines; i++) {
		const struct report_line *l = &r->lines[i];
		if (strcmp(l->campaign, c->name) != 0)
			continue;
		fprintf(out, "<tr><td>%d</td>", l->step);
		td_text(out, l->channel);
		td_text(out, l->template);
		td_text(out, l->variant);
		td_text(out, l->segment);
		for (size_t k = 0; k < RS_N; k++)
			td_num(out, l->c.state[k]);
		td_num(out, l->c.opened);
		td_num(out, l->c.clicked);
		td_num(out, l->c.replied);
		td_num(out, l->c.unsubscribed);
		td_num(out, l->c.converted);
		double rt[RR_N];
		report_rates(&l->c, l->has_goal, rt);
		for (size_t k = 0; k < RR_N; k++) {
			fputs("<td>", out);
			pct(out, rt[k]);
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</table></div>\n", out);
}

/* goal_table - treated, each variant and the holdout, with the lift */
static void goal_table(FILE *out, const struct report_campaign *c)
{
	fputs("<table class=\"goal\">\n<tr>", out);
	th(out, "group", 1);
	th(out, "enrollments", 0);
	th(out, "converted", 0);
	th(out, "conversion", 0);
	th(out, "95% interval", 0);
	th(out, "lift", 0);
	th(out, "lift 95% interval", 0);
	fputs("</tr>\n", out);
	for (size_t i = 0; i <= c->nvariants; i++) {
		int64_t tr = i ? c->variants[i - 1].treated : c->treated;
		int64_t cv = i ? c->variants[i - 1].converted : c->treated_converted;
		struct report_lift lf;
		report_lift(c, tr, cv, &lf);
		fputs("<tr>", out);
		if (i) {
			fputs("<td class=\"t\">variant ", out);
			esc(out, c->variants[i - 1].name);
			fputs("</td>", out);
		} else {
			td_text(out, "treated");
		}
		td_num(out, tr);
		td_num(out, cv);
		fputs("<td>", out);
		pct(out, lf.treated_rate);
		fputs("</td><td>", out);
		ci_text(out, lf.has_treated_ci, lf.treated_ci);
		fputs("</td><td>", out);
		lift_text(out, &lf);
		fputs("</td><td>", out);
		lift_ci_text(out, &lf);
		fputs("</td></tr>\n", out);
	}
	struct report_lift lf;
	report_lift(c, c->treated, c->treated_converted, &lf);
	fputs("<tr>", out);
	td_text(out, "holdout");
	td_num(out, c->holdout);
	td_num(out, c->holdout_converted);
	fputs("<td>", out);
	pct(out, lf.holdout_rate);
	fputs("</td><td>", out);
	ci_text(out, lf.has_holdout_ci, lf.holdout_ci);
	fputs("</td><td></td><td></td></tr>\n</table>\n"
	      "<p class=\"meta\">95% intervals: Wilson score for each rate, Newcombe's hybrid "
	      "score for the lift (the difference of two rates).</p>\n",
	      out);
}

/* surveys - one campaign's (or every campaign's: "") survey answers, the
 * total and per segment: sent, answered, NPS and CSAT */
static void surveys(FILE *out, const struct report *r, const char *campaign)
{
	int head = 0;
	for (size_t i = 0; i < r->nsurveys; i++) {
		const struct report_survey_line *l = &r->surveys[i];
		if (strcmp(l->campaign, campaign) != 0)
			continue;
		if (!head) {
			fputs("<table class=\"survey\">\n<tr>", out);
			th(out, "segment", 1);
			th(out, "surveys", 0);
			th(out, "responses", 0);
			th(out, "response rate", 0);
			th(out, "NPS", 0);
			th(out, "promoters", 0);
			th(out, "passives", 0);
			th(out, "detractors", 0);
			th(out, "CSAT (4-5)", 0);
			th(out, "CSAT mean", 0);
			fputs("</tr>\n", out);
			head = 1;
		}
		struct survey_rates sr;
		survey_rates(&l->s, &sr);
		fputs("<tr data-segment=\"", out);
		esc(out, l->segment ? l->segment : "*");
		fputs("\">", out);
		td_text(out, !l->segment ? "all" : l->segment[0] ? l->segment : "(none)");
		td_num(out, l->s.sent);
		td_num(out, l->s.responses);
		fputs("<td>", out);
		pct(out, sr.response_rate);
		if (sr.has_nps)
			fprintf(out, "</td><td data-nps=\"%.6g\">%+.0f", sr.nps, sr.nps);
		else
			fputs("</td><td>-", out);
		fputs("</td>", out);
		td_num(out, l->s.promoters);
		td_num(out, l->s.passives);
		td_num(out, l->s.detractors);
		fputs("<td>", out);
		pct(out, sr.csat);
		fputs("</td><td>", out);
		if (sr.csat_mean < 0)
			fputs("-", out);
		else
			fprintf(out, "%.2f", sr.csat_mean);
		fputs("</td></tr>\n", out);
	}
	if (head)
		fputs("</table>\n<p class=\"meta\">NPS: % of 9-10 answers minus % of 0-6 answers "
		      "(0 to 10 surveys); CSAT: % of 4-5 answers (1 to 5 surveys).</p>\n",
		      out);
}

static void campaign(FILE *out, const struct report *r, const struct report_campaign *c)
{
	fputs("<section class=\"campaign\" data-campaign=\"", out);
	esc(out, c->name);
	fputs("\">\n<h2>", out);
	esc(out, c->name);
	fputs("</h2>\n<p class=\"meta\">", out);
	if (c->goal) {
		char within[32];
		duration_format(c->goal_within, within, sizeof(within));
		fputs("goal: ", out);
		esc(out, c->goal);
		fprintf(out, " within %s &middot; ", within);
	} else {
		fputs("no goal configured &middot; ", out);
	}
	fprintf(out, "%lld enrolled, %lld held out &middot; %lld sends", (long long)c->treated,
		(long long)c->holdout, (long long)c->c.total);
	fputs("</p>\n<h3>Funnel</h3>\n", out);
	funnel(out, c);
	if (c->goal && (c->holdout || c->holdout_share > 0 || c->nvariants)) {
		fputs("<h3>Goal: treated against holdout</h3>\n", out);
		goal_chart(out, c);
		goal_table(out, c);
	}
	if (c->c.survey.sent) {
		fputs("<h3>Survey</h3>\n", out);
		surveys(out, r, c->name);
	}
	fputs("<h3>By step, channel, variant and segment</h3>\n", out);
	lines(out, r, c);
	fputs("</section>\n", out);
}

void report_html_write(FILE *out, const struct report *r)
{
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		     "<title>outreach report</title>\n<style>%s</style>\n</head>\n<body>\n",
		     style);
	fputs("<h1>outreach report</h1>\n<p class=\"meta\">", out);
	if (r->campaign_filter) {
		fputs("campaign ", out);
		esc(out, r->campaign_filter);
		fputs(" &middot; ", out);
	}
	if (r->since != INT64_MIN) {
		char ts[32];
		time_format(r->since, ts, sizeof(ts));
		fprintf(out, "sends created since %s &middot; ", ts);
	}
	fputs("days in ", out);
	esc(out, r->zone);
	fprintf(out, " &middot; machine opens and clicks %s</p>\n",
		r->machine_opens ? "counted" : "left out");
	fputs("<h2>Sends and replies per day</h2>\n", out);
	daily(out, r);
	if (!r->ncampaigns)
		fputs("<p>No sends or enrollments yet.</p>\n", out);
	if (r->nsurveys) {
		fputs("<h2>Surveys by segment, every campaign</h2>\n", out);
		surveys(out, r, "");
	}
	for (size_t i = 0; i < r->ncampaigns; i++)
		campaign(out, r, &r->campaigns[i]);
	fputs("</body>\n</html>\n", out);
}
