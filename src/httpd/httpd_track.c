/* httpd_track.c - the signed-token endpoints: /o (open pixel), /c (click
 * redirect), /u (unsubscribe page and RFC 8058 one-click POST), /s
 * (survey page and answer: the question on the send's `survey:` scale, one
 * answer per send, a second one refused with 409).
 *
 * How: the token after the prefix is verified (track_verify, HMAC with
 * the tracking secret) and must be of the route's kind before anything
 * else happens; then model/feedback.c records what the request means.
 * HEAD requests (link checkers) get the same answer but record nothing.
 *
 * Security: a forged, altered or truncated token, an unknown send or a
 * link the message did not contain is a 404 and records nothing. A
 * redirect goes only to the URL stored for that message and link
 * (nothing from the request reaches Location). Pages are static text in
 * the contact's language: no request or contact data is echoed into them.
 */
#include <stdlib.h>
#include <string.h>

#include "feedback.h"
#include "httpd_internal.h"
#include "store_feedback.h"
#include "track.h"

/* a 1x1 transparent GIF */
static const unsigned char gif[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};

/* ---- pages ---- */

struct words {
	const char *lang, *unsub_title, *unsub_ask, *unsub_keep, *unsub_button, *unsub_done,
	    *unsub_done_more, *survey_title, *survey_ask, *survey_scale, *survey_comment,
	    *survey_button, *survey_thanks, *survey_bad, *channel[CHANNEL_NKINDS + 1];
	/* the 1 to 5 satisfaction question, and a survey answered before */
	const char *csat_ask, *csat_scale, *csat_bad, *survey_answered;
};

static const struct words en = {
    "en",
    "Unsubscribe",
    "Unsubscribe from marketing %s?",
    "You will still receive messages about your orders and your account.",
    "Unsubscribe",
    "You are unsubscribed",
    "You will no longer receive marketing %s from us.",
    "Survey",
    "How likely are you to recommend us to a friend?",
    "0 = not at all likely, 10 = extremely likely",
    "Anything else you would like to tell us? (optional)",
    "Send",
    "Thank you for your feedback.",
    "Please choose a score from 0 to 10 (and keep the comment under 2000 characters).",
    {"email", "text messages", "chat messages", "messages"},
    "How satisfied are you with our service?",
    "1 = very dissatisfied, 5 = very satisfied",
    "Please choose a score from 1 to 5 (and keep the comment under 2000 characters).",
    "You have already answered this survey. Thank you!",
};

static const struct words zh = {
    "zh-CN",
    "退订",
    "确定退订营销%s吗？",
    "您仍会收到与订单和账户相关的通知。",
    "确认退订",
    "您已成功退订",
    "我们将不再向您发送营销%s。",
    "问卷调查",
    "您有多大可能向朋友推荐我们？",
    "0 = 完全不可能，10 = 非常可能",
    "还有什么想告诉我们的吗？（选填）",
    "提交",
    "感谢您的反馈！",
    "请选择 0 到 10 分（留言请少于 2000 字）。",
    {"邮件", "短信", "消息", "消息"},
    "您对我们的服务满意吗？",
    "1 = 非常不满意，5 = 非常满意",
    "请选择 1 到 5 分（留言请少于 2000 字）。",
    "您已经回答过这份问卷，感谢您的参与！",
};

/* words_for - zh when the contact's locale says so, or (none given) the
 * browser's first language */
static const struct words *words_for(const struct feedback_send *f, const char *accept_language)
{
	const char *l = f && f->locale ? f->locale : accept_language;
	while (l && *l == ' ')
		l++;
	if (l && (l[0] == 'z' || l[0] == 'Z') && (l[1] == 'h' || l[1] == 'H'))
		return &zh;
	return &en;
}

static const char *channel_word(const struct words *w, const char *channel)
{
	int k = channel ? channel_parse(channel) : -1;
	return w->channel[k >= 0 ? k : CHANNEL_NKINDS];
}

static void page_begin(struct httpd_resp *rs, int code, const struct words *w, const char *title)
{
	rs->code = code;
	rs->content_type = "text/html; charset=utf-8";
	rs->html = 1;
	buf_reset(&rs->body);
	buf_printf(&rs->body,
		   "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
		   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		   "<meta name=\"robots\" content=\"noindex\"><title>%s</title><style>"
		   "body{font-family:system-ui,sans-serif;max-width:34em;margin:3em auto;"
		   "padding:0 1em;color:#222;line-height:1.5}"
		   "button{font-size:1em;padding:.5em 1.5em}"
		   "label.s{display:inline-block;margin:.2em .4em;text-align:center}"
		   "textarea{width:100%%;box-sizing:border-box}</style></head><body>\n",
		   w->lang, title);
}

static void page_end(struct httpd_resp *rs)
{
	buf_puts(&rs->body, "</body></html>\n");
}

/* ---- endpoints ---- */

static void not_found(struct httpd_resp *rs)
{
	httpd_text(rs, 404, "unknown or expired link");
}

static int is_head(const struct httpd_req *rq)
{
	return strcmp(rq->method, "HEAD") == 0;
}

static void open_pixel(struct store *s, int64_t id, const struct httpd_req *rq,
		       struct httpd_resp *rs)
{
	if (!is_head(rq)) {
		struct feedback_result r;
		struct err e = {{0}};
		int rc = feedback_open(s, id, rq->user_agent, rq->now, &r, &e);
		feedback_result_release(&r);
		if (rc < 0) {
			httpd_fail(rs, e.msg);
			return;
		}
		if (rc == FEEDBACK_NOT_FOUND) {
			not_found(rs);
			return;
		}
	}
	rs->code = 200;
	rs->content_type = "image/gif";
	buf_reset(&rs->body);
	buf_append(&rs->body, gif, sizeof(gif));
}

static void click(struct store *s, int64_t id, int link, const struct httpd_req *rq,
		  struct httpd_resp *rs)
{
	struct err e = {{0}};
	char *url = NULL;
	int rc;
	if (is_head(rq)) {
		struct feedback_send f;
		rc = feedback_send_get(s, id, &f, &e);
		if (rc == FEEDBACK_OK) {
			feedback_send_release(&f);
			rc = store_link_get(s, id, link, &url, &e);
			if (rc == 0 && !feedback_url_ok(url))
				rc = FEEDBACK_NOT_FOUND;
		}
	} else {
		struct feedback_result r;
		rc = feedback_click(s, id, link, rq->user_agent, rq->now, &r, &e);
		url = r.url;
		r.url = NULL;
		feedback_result_release(&r);
	}
	if (rc < 0) {
		free(url);
		httpd_fail(rs, e.msg);
		return;
	}
	if (rc != 0) {
		free(url);
		not_found(rs);
		return;
	}
	rs->location = url;
	httpd_text(rs, 302, "redirecting");
}

/* one_click - the body of an unsubscribe POST: empty, or the RFC 8058
 * pair List-Unsubscribe=One-Click (urlencoded or multipart/form-data) */
static int one_click(const struct httpd_req *rq)
{
	size_t i = 0;
	while (i < rq->len && strchr(" \t\r\n", rq->body[i]))
		i++;
	if (i == rq->len)
		return 1;
	if (httpd_media_is(rq->content_type, "multipart/form-data"))
		return memmem(rq->body, rq->len, "name=\"List-Unsubscribe\"", 23) &&
		       memmem(rq->body, rq->len, "One-Click", 9);
	char *v;
	int rc = httpd_form_get(rq->body, rq->len, "List-Unsubscribe", &v);
	int ok = rc == 0 && strcmp(v, "One-Click") == 0;
	if (rc == 0)
		free(v);
	return ok;
}

/* page_send - the send a page's token names: 0, or the answer is set (a
 * store failure, or 404 for a send that is not there) and -1 */
static int page_send(struct store *s, int64_t id, struct feedback_send *f, struct httpd_resp *rs)
{
	struct err e = {{0}};
	int rc = feedback_send_get(s, id, f, &e);
	if (rc < 0)
		httpd_fail(rs, e.msg);
	else if (rc != FEEDBACK_OK)
		not_found(rs);
	return rc == FEEDBACK_OK ? 0 : -1;
}

static void unsubscribe(struct store *s, int64_t id, const struct httpd_req *rq,
			struct httpd_resp *rs)
{
	struct err e = {{0}};
	struct feedback_send f;
	int rc;
	if (page_send(s, id, &f, rs) != 0)
		return;
	const struct words *w = words_for(&f, rq->accept_language);
	const char *what = channel_word(w, f.channel);
	if (strcmp(rq->method, "POST") != 0) {
		page_begin(rs, 200, w, w->unsub_title);
		buf_printf(&rs->body, "<h1>");
		buf_printf(&rs->body, w->unsub_ask, what);
		buf_printf(&rs->body,
			   "</h1>\n<p>%s</p>\n<form method=\"post\">"
			   "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
			   "<button type=\"submit\">%s</button></form>\n",
			   w->unsub_keep, w->unsub_button);
		page_end(rs);
		feedback_send_release(&f);
		return;
	}
	if (!one_click(rq)) {
		feedback_send_release(&f);
		httpd_text(rs, 400, "expected the body List-Unsubscribe=One-Click");
		return;
	}
	struct feedback_result r;
	rc = feedback_unsubscribe(s, id, rq->now, &r, &e);
	feedback_result_release(&r);
	if (rc < 0) {
		feedback_send_release(&f);
		httpd_fail(rs, e.msg);
		return;
	}
	if (rc != FEEDBACK_OK) {
		feedback_send_release(&f);
		not_found(rs);
		return;
	}
	page_begin(rs, 200, w, w->unsub_title);
	buf_printf(&rs->body, "<h1>%s</h1>\n<p>", w->unsub_done);
	buf_printf(&rs->body, w->unsub_done_more, what);
	buf_puts(&rs->body, "</p>\n");
	page_end(rs);
	feedback_send_release(&f);
}

/* survey_form - the question on the send's scale: 0 to 10 (NPS) or 1 to 5
 * (CSAT), a radio button each, and the comment */
static void survey_form(struct httpd_resp *rs, int code, const struct words *w,
			enum survey_scale scale, int bad)
{
	int csat = scale == SURVEY_CSAT, lo = csat ? 1 : 0, hi = csat ? 5 : 10;
	page_begin(rs, code, w, w->survey_title);
	if (bad)
		buf_printf(&rs->body, "<p><strong>%s</strong></p>\n",
			   csat ? w->csat_bad : w->survey_bad);
	buf_printf(&rs->body,
		   "<h1>%s</h1>\n<form method=\"post\" data-scale=\"%s\">\n<p>%s</p>\n<p>",
		   csat ? w->csat_ask : w->survey_ask, csat ? "csat" : "nps",
		   csat ? w->csat_scale : w->survey_scale);
	for (int i = lo; i <= hi; i++)
		buf_printf(&rs->body,
			   "<label class=\"s\"><input type=\"radio\" name=\"score\" value=\"%d\""
			   "%s><br>%d</label>",
			   i, i == lo ? " required" : "", i);
	buf_printf(&rs->body,
		   "</p>\n<p><label>%s<br><textarea name=\"comment\" rows=\"5\" "
		   "maxlength=\"2000\"></textarea></label></p>\n"
		   "<p><button type=\"submit\">%s</button></p>\n</form>\n",
		   w->survey_comment, w->survey_button);
	page_end(rs);
}

/* survey_answered - the page for a survey that has its answer: 200 on a
 * GET, 409 Conflict on a second POST (nothing recorded) */
static void survey_answered(struct httpd_resp *rs, int code, const struct words *w)
{
	page_begin(rs, code, w, w->survey_title);
	buf_printf(&rs->body, "<h1>%s</h1>\n", w->survey_answered);
	page_end(rs);
}

static void survey(struct httpd *h, struct store *s, int64_t id, const struct httpd_req *rq,
		   struct httpd_resp *rs)
{
	struct err e = {{0}};
	struct feedback_send f;
	int rc;
	if (page_send(s, id, &f, rs) != 0)
		return;
	const struct words *w = words_for(&f, rq->accept_language);
	/* the step's `survey:`, else its campaign's; 0 to 10 when neither says */
	enum survey_scale scale = config_survey(h->cfg, f.campaign, f.step);
	if (scale == SURVEY_NONE)
		scale = SURVEY_NPS;
	feedback_send_release(&f);
	int post = strcmp(rq->method, "POST") == 0, answered = 0;
	if (feedback_survey_answered(s, id, &answered, &e) < 0) {
		httpd_fail(rs, e.msg);
		return;
	}
	if (answered) {
		survey_answered(rs, post ? 409 : 200, w);
		return;
	}
	if (!post) {
		survey_form(rs, 200, w, scale, 0);
		return;
	}
	static const char *const names[] = {"score", "comment"};
	char *vals[2];
	int code = httpd_fields(rq, names, 2, vals, &e);
	if (code) {
		httpd_text(rs, code, "%s", e.msg);
		return;
	}
	struct feedback_result r;
	rc = feedback_survey(s, id, scale, vals[0], vals[1], rq->now, &r, &e);
	feedback_result_release(&r);
	free(vals[0]);
	free(vals[1]);
	if (rc < 0)
		httpd_fail(rs, e.msg);
	else if (rc == FEEDBACK_BAD)
		survey_form(rs, 400, w, scale, 1);
	else if (rc == FEEDBACK_ANSWERED)
		survey_answered(rs, 409, w); /* a second answer raced this one */
	else if (rc != FEEDBACK_OK)
		not_found(rs);
	else {
		page_begin(rs, 200, w, w->survey_title);
		buf_printf(&rs->body, "<h1>%s</h1>\n", w->survey_thanks);
		page_end(rs);
	}
}

void httpd_track(struct httpd *h, struct store *s, char kind, const struct httpd_req *rq,
		 struct httpd_resp *rs)
{
	const char *tok = rq->path + 3; /* after "/o/" */
	char k;
	int64_t id;
	int link;
	if (track_verify(h->secret, tok, &k, &id, &link) < 0 || k != kind) {
		not_found(rs);
		return;
	}
	switch (kind) {
	case 'o':
		open_pixel(s, id, rq, rs);
		break;
	case 'c':
		click(s, id, link, rq, rs);
		break;
	case 'u':
		unsubscribe(s, id, rq, rs);
		break;
	default:
		survey(h, s, id, rq, rs);
		break;
	}
}
