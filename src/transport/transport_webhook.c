/* transport_webhook.c - the webhook transport: chat messages to Slack,
 * Teams, Discord, Feishu, DingTalk, WeCom, Telegram or a generic receiver
 *
 * A transport serves channel chat with one `flavor`. Without `to:` every
 * message goes to the configured group (`url`, or for telegram the
 * `chat_id` option); with `to:` the contact's field or attribute holds
 * the address: telegram's chat id, or for the other flavors the
 * contact's own webhook url. deliver() builds the batch's requests
 * (webhook.h: the payload each service documents, its signature) and
 * runs them through the shared HTTP engine (http_client.h) in waves of
 * `concurrency`, one request per connection, each wave's outcomes handed
 * back and recorded before the next (transport.h: deliver_acked), then
 * reads each answer the way its service documents (webhook_classify).
 * The `now` given to deliver is the clock of every signature, so a run
 * with --now signs the same bytes each time.
 *
 * Options: flavor (required: slack | teams | discord | feishu | dingtalk |
 * wecom | telegram | generic); url (required without to:, except for
 * telegram, whose default is https://api.telegram.org/bot<TOKEN>/
 * sendMessage with the token from the variable token_env names; with to:
 * the contact's own url is used and url is refused); secret_env (feishu,
 * dingtalk: the robot's signing secret; generic: the HMAC key of
 * X-Outreach-Signature; absent: unsigned); format (markdown | text,
 * default markdown); title (dingtalk markdown, a feishu card header, a
 * teams heading; default for dingtalk: the text's first line); chat_id
 * (telegram without to:, the group's chat id); concurrency (requests at
 * once, default 4, 1-64); timeout (whole request, default 10s); ca_file.
 *
 * What the services document (looked up for this file):
 * - DingTalk custom robot, "加签" (open.dingtalk.com/document/robots/
 *   customize-robot-security-settings, quoted in "自定义机器人接入",
 *   apifox.com/apidoc/docs-site/467052/doc-3550006): "把timestamp+"\n"+密钥
 *   当做签名字符串，使用HmacSHA256算法计算签名，然后进行Base64 encode，最后
 *   再把签名参数再进行urlEncode"; timestamp in milliseconds, within an hour
 *   of the server's clock; the key is the secret ("SEC..."); appended as
 *   &timestamp=XXX&sign=XXX. Answers {"errcode":0,"errmsg":"ok"}; 310000
 *   is a bad signature or keyword, 130101 "send too fast, exceed 20 times
 *   per minute" (the robot's rate limit).
 * - Feishu custom bot, "签名校验" (open.feishu.cn/document/client-docs/
 *   bot-v3/add-custom-bot): "将 timestamp + "\n" + 密钥 当做签名字符串，使用
 *   HmacSHA256 算法计算签名，再进行 Base64 编码", timestamp in seconds; the
 *   official samples use that string as the HMAC key over an empty message;
 *   "timestamp" and "sign" go in the JSON body. Answers {"code":0,...}
 *   (older: {"StatusCode":0}); 19021 "sign match fail or timestamp is not
 *   within one hour from current time"; 11232 is the message rate limit
 *   (100 a minute, 5 a second), which may come with an HTTP 400. Cards: msg_type "interactive"
 *   with a "markdown" element (open.feishu.cn/document/common-capabilities/
 *   message-card/getting-started/send-message-cards-with-a-custom-bot).
 * - WeCom group robot (developer.work.weixin.qq.com/document/path/91770):
 *   {"msgtype":"markdown","markdown":{"content":...}} (4096 bytes) or text
 *   (2048 bytes); answers {"errcode":0}; 45009 is the rate limit
 *   (20 messages a minute per robot).
 * - Slack incoming webhooks (api.slack.com/messaging/webhooks): POST
 *   {"text": ...}; the answer is "ok", errors are 4xx with a word
 *   ("invalid_payload", "no_text").
 * - Microsoft Teams, "Send adaptive cards using an incoming webhook"
 *   (learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/
 *   how-to/connectors-using): {"type":"message","attachments":[{"contentType":
 *   "application/vnd.microsoft.card.adaptive","contentUrl":null,"content":
 *   {AdaptiveCard}}]}; the same page says connectors answer a throttled
 *   request with a body holding "Microsoft Teams endpoint returned HTTP
 *   error 429" instead of a 429.
 * - Discord "Execute Webhook" (discord.com/developers/docs/resources/
 *   webhook#execute-webhook): {"content": ...} up to 2000 characters;
 *   ?wait=true "waits for server confirmation of message send before
 *   response, and returns the created message body".
 * - Telegram Bot API sendMessage (core.telegram.org/bots/api#sendmessage):
 *   chat_id, text (1-4096 characters after entities parsing), parse_mode
 *   HTML with <, > and & escaped; answers {"ok":true,"result":{Message}}
 *   or {"ok":false,"error_code":429,"parameters":{"retry_after":N}}.
 *
 * Security: secrets (secret_env, token_env) come only from the
 * environment and stay there (borrowed, never copied, never logged). A
 * url is a secret too (its query or path holds a token): no url, query
 * or secret ever reaches an error, a log line or a delivery reason, and
 * each reason is scrubbed of them before it leaves this file, in case a
 * server echoes the request. A contact's own webhook url must be http(s)
 * and is never quoted. Bodies are built with jansson, so text cannot
 * break out of its JSON string; Telegram HTML is escaped and balanced.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "config.h"
#include "http_client.h"
#include "log.h"
#include "transport.h"
#include "webhook.h"
#include "xmalloc.h"

#define DISCORD_MAX 2000	/* UTF-16 units */
#define TELEGRAM_MAX 4096	/* UTF-16 units after entities parsing */
#define WECOM_MARKDOWN_MAX 4096 /* bytes */
#define WECOM_TEXT_MAX 2048	/* bytes */
#define TITLE_MAX 100		/* bytes */
#define TELEGRAM_API "https://api.telegram.org/bot"

static const char *const flavor_names[WEBHOOK_NFLAVORS] = {
    "slack", "teams", "discord", "feishu", "dingtalk", "wecom", "telegram", "generic",
};

int webhook_flavor_parse(const char *s)
{
	for (int i = 0; s && i < WEBHOOK_NFLAVORS; i++)
		if (strcmp(s, flavor_names[i]) == 0)
			return i;
	return -1;
}

const char *webhook_flavor_name(enum webhook_flavor f)
{
	return (int)f >= 0 && f < WEBHOOK_NFLAVORS ? flavor_names[f] : "?";
}

/* ---- small pure helpers ---- */

int webhook_url_ok(const char *s)
{
	const char *host;
	if (!s)
		return 0;
	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return 0;
	if (!*host || *host == '/' || *host == '?' || *host == '#')
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

int webhook_chat_id_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	if (*s == '@') {
		size_t n = 0;
		for (const char *p = s + 1; *p; p++, n++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				return 0;
		return n >= 1 && n <= 64;
	}
	const char *p = s + (*s == '-');
	if (!*p || strlen(p) > 19)
		return 0;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

/* hmac_b64 - base64 of HMAC-SHA256(key, msg) into out[45] */
static void hmac_b64(const void *key, size_t klen, const void *msg, size_t mlen, char out[45])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const unsigned char empty[1];
	if (!HMAC(EVP_sha256(), key, (int)klen, mlen ? msg : empty, mlen, md, &mdlen) ||
	    mdlen != 32)
		log_panic("webhook: HMAC-SHA256 failed");
	EVP_EncodeBlock((unsigned char *)out, md, 32); /* 44 characters and a NUL */
}

void webhook_feishu_sign(const char *secret, int64_t ts, char out[45])
{
	char *key = xasprintf("%lld\n%s", (long long)ts, secret ? secret : "");
	hmac_b64(key, strlen(key), "", 0, out);
	free(key);
}

void webhook_dingtalk_sign(const char *secret, int64_t ts_ms, char out[45])
{
	const char *k = secret ? secret : "";
	char *msg = xasprintf("%lld\n%s", (long long)ts_ms, k);
	hmac_b64(k, strlen(k), msg, strlen(msg), out);
	free(msg);
}

void webhook_generic_sign(const char *secret, int64_t ts, const char *body, size_t n, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *k = secret ? secret : "";
	struct buf msg = BUF_INIT;
	buf_printf(&msg, "%lld.", (long long)ts);
	buf_append(&msg, body, n);
	if (!HMAC(EVP_sha256(), k, (int)strlen(k), (const unsigned char *)msg.data, msg.len, md,
		  &mdlen) ||
	    mdlen != 32)
		log_panic("webhook: HMAC-SHA256 failed");
	buf_release(&msg);
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "sha256=", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[7 + 2 * i + 1] = hex[md[i] & 15];
	}
	out[71] = '\0';
}

/* utf16_len - UTF-16 code units of valid UTF-8 s[0..n) */
static size_t utf16_len(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xc0) != 0x80)
			k += c >= 0xf0 ? 2 : 1;
	}
	return k;
}

/* html_visible_len - UTF-16 units of what Telegram shows for our HTML:
 * tags dropped, each entity one character */
static size_t html_visible_len(const char *h)
{
	size_t k = 0;
	for (const char *p = h; *p;) {
		if (*p == '<') {
			const char *q = strchr(p, '>');
			p = q ? q + 1 : p + strlen(p);
		} else if (*p == '&') {
			const char *q = strchr(p, ';');
			k++;
			p = q ? q + 1 : p + 1;
		} else {
			unsigned char c = (unsigned char)*p++;
			if ((c & 0xc0) != 0x80)
				k += c >= 0xf0 ? 2 : 1;
		}
	}
	return k;
}

void webhook_title(const char *text, char *out, size_t n)
{
	const char *p = text ? text : "";
	out[0] = '\0';
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *s = p, *end = p + len;
		while (s < end && (*s == '#' || *s == ' ' || *s == '\t'))
			s++;
		while (end > s && isspace((unsigned char)end[-1]))
			end--;
		if (end > s) {
			size_t k = (size_t)(end - s);
			size_t cap = n - 1 < TITLE_MAX ? n - 1 : TITLE_MAX;
			if (k > cap) {
				k = cap;
				while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
					k--; /* whole UTF-8 characters only */
			}
			memcpy(out, s, k);
			out[k] = '\0';
			if (k)
				return;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	snprintf(out, n, "%s", "message");
}

static void html_escape(struct buf *b, const char *s, size_t n, int attr)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, attr ? "&quot;" : "\"");
			break;
		default:
			buf_putc(b, s[i]);
			break;
		}
	}
}

/* md_find - the first occurrence of tok in [p, end), or NULL */
static const char *md_find(const char *p, const char *end, const char *tok)
{
	size_t k = strlen(tok);
	for (; p + k <= end; p++)
		if (memcmp(p, tok, k) == 0)
			return p;
	return NULL;
}

/* md_inline - one line's inline markdown as Telegram HTML */
static void md_inline(struct buf *b, const char *p, const char *end)
{
	while (p < end) {
		if (p[0] == '`') {
			const char *q = md_find(p + 1, end, "`");
			if (q && q > p + 1) {
				buf_puts(b, "<code>");
				html_escape(b, p + 1, (size_t)(q - p - 1), 0);
				buf_puts(b, "</code>");
				p = q + 1;
				continue;
			}
		} else if (p[0] == '*' && p + 1 < end && p[1] == '*') {
			const char *q = md_find(p + 2, end, "**");
			if (q && q > p + 2) {
				buf_puts(b, "<b>");
				html_escape(b, p + 2, (size_t)(q - p - 2), 0);
				buf_puts(b, "</b>");
				p = q + 2;
				continue;
			}
		} else if (p[0] == '[') {
			const char *q = md_find(p + 1, end, "](");
			const char *r = q ? md_find(q + 2, end, ")") : NULL;
			if (q && r && q > p + 1 && !memchr(p + 1, ']', (size_t)(q - p - 1))) {
				char *url = xstrndup(q + 2, (size_t)(r - q - 2));
				if (webhook_url_ok(url)) {
					buf_puts(b, "<a href=\"");
					html_escape(b, url, strlen(url), 1);
					buf_puts(b, "\">");
					html_escape(b, p + 1, (size_t)(q - p - 1), 0);
					buf_puts(b, "</a>");
					free(url);
					p = r + 1;
					continue;
				}
				free(url);
			}
		}
		html_escape(b, p, 1, 0);
		p++;
	}
}

char *webhook_telegram_html(const char *md)
{
	struct buf b = BUF_INIT;
	const char *p = md ? md : "";
	buf_puts(&b, "");
	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *end = eol ? eol : p + strlen(p);
		const char *h = p;
		while (h < end && *h == '#' && h - p < 6)
			h++;
		if (h > p && h < end && (*h == ' ' || *h == '\t')) {
			while (h < end && (*h == ' ' || *h == '\t'))
				h++;
			buf_puts(&b, "<b>");
			html_escape(&b, h, (size_t)(end - h), 0);
			buf_puts(&b, "</b>");
		} else {
			md_inline(&b, p, end);
		}
		if (!eol)
			break;
		buf_putc(&b, '\n');
		p = eol + 1;
	}
	return buf_detach(&b);
}

/* ---- building a request ---- */

static int set_str(json_t *o, const char *key, const char *s)
{
	json_t *v = json_string(s);
	if (!v)
		return -1;
	json_object_set_new(o, key, v);
	return 0;
}

/* url_with - url and "?" or "&" and param; caller frees */
static char *url_with(const char *url, const char *param)
{
	size_t n = strlen(url);
	const char *sep = !strchr(url, '?')				    ? "?"
			  : (n && (url[n - 1] == '?' || url[n - 1] == '&')) ? ""
									    : "&";
	return xasprintf("%s%s%s", url, sep, param);
}

static void add_header(struct webhook_request *r, const char *name, const char *value)
{
	if (r->nheaders >= WEBHOOK_MAX_HEADERS)
		log_panic("webhook: too many headers");
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = value;
	r->nheaders++;
}

static json_t *build_teams(const char *text, const char *title)
{
	json_t *body = json_array();
	if (title) {
		json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "TextBlock", "text",
				      title, "weight", "Bolder", "size", "Medium", "wrap", 1);
		if (!t) {
			json_decref(body);
			return NULL;
		}
		json_array_append_new(body, t);
	}
	json_t *tb = json_pack("{s:s, s:s, s:b}", "type", "TextBlock", "text", text, "wrap", 1);
	if (!tb) {
		json_decref(body);
		return NULL;
	}
	json_array_append_new(body, tb);
	return json_pack("{s:s, s:[{s:s, s:n, s:{s:s, s:s, s:s, s:o}}]}", "type", "message",
			 "attachments", "contentType", "application/vnd.microsoft.card.adaptive",
			 "contentUrl", "content", "$schema",
			 "http://adaptivecards.io/schemas/adaptive-card.json", "type",
			 "AdaptiveCard", "version", "1.2", "body", body);
}

static json_t *build_feishu(const char *text, const char *title, int markdown)
{
	if (!markdown)
		return json_pack("{s:s, s:{s:s}}", "msg_type", "text", "content", "text", text);
	json_t *card = json_object();
	if (title) {
		json_t *h =
		    json_pack("{s:{s:s, s:s}}", "title", "tag", "plain_text", "content", title);
		if (!h) {
			json_decref(card);
			return NULL;
		}
		json_object_set_new(card, "header", h);
	}
	json_t *els = json_pack("[{s:s, s:s}]", "tag", "markdown", "content", text);
	if (!els) {
		json_decref(card);
		return NULL;
	}
	json_object_set_new(card, "elements", els);
	return json_pack("{s:s, s:o}", "msg_type", "interactive", "card", card);
}

static json_t *telegram_chat(const char *id)
{
	if (id[0] == '@')
		return json_string(id);
	return json_integer((json_int_t)strtoll(id, NULL, 10));
}

int webhook_build(const struct webhook_input *in, struct webhook_request *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	const char *src = in->text ? in->text : "";
	size_t n = strlen(src);
	while (n && isspace((unsigned char)src[n - 1]))
		n--;
	char *text = xstrndup(src, n);
	char derived[TITLE_MAX + 8];
	webhook_title(text, derived, sizeof(derived));
	const char *title = in->title ? in->title : derived;
	const char *fl = webhook_flavor_name(in->flavor);
	const char *secret = in->secret && *in->secret ? in->secret : NULL;
	json_t *o = NULL;
	char *html = NULL;
	int rc = 0;

	if (!in->url || !webhook_url_ok(in->url)) {
		rc = err_set(e, "invalid webhook url");
		goto out;
	}
	/* jansson refuses invalid UTF-8: check once, say it plainly */
	json_t *probe = json_string(text);
	if (!probe) {
		rc = err_set(e, "text is not valid UTF-8");
		goto out;
	}
	json_decref(probe);
	if (!*text) {
		rc = err_set(e, "empty message");
		goto out;
	}

	switch (in->flavor) {
	case WEBHOOK_SLACK:
		o = in->markdown ? json_pack("{s:s}", "text", text)
				 : json_pack("{s:s, s:b}", "text", text, "mrkdwn", 0);
		break;
	case WEBHOOK_TEAMS:
		o = build_teams(text, in->title);
		break;
	case WEBHOOK_DISCORD: {
		size_t k = utf16_len(text, n);
		if (k > DISCORD_MAX) {
			rc = err_set(e, "too long: %zu characters, discord takes %d", k,
				     DISCORD_MAX);
			goto out;
		}
		o = json_pack("{s:s, s:{s:[]}}", "content", text, "allowed_mentions", "parse");
		break;
	}
	case WEBHOOK_FEISHU:
		if (secret) {
			char sign[45];
			char ts[24];
			webhook_feishu_sign(secret, in->now, sign);
			snprintf(ts, sizeof(ts), "%lld", (long long)in->now);
			o = json_pack("{s:s, s:s}", "timestamp", ts, "sign", sign);
			json_t *m = build_feishu(text, in->title, in->markdown);
			if (!m) {
				json_decref(o);
				o = NULL;
				break;
			}
			json_object_update(o, m);
			json_decref(m);
		} else {
			o = build_feishu(text, in->title, in->markdown);
		}
		break;
	case WEBHOOK_DINGTALK:
		o = in->markdown
			? json_pack("{s:s, s:{s:s, s:s}}", "msgtype", "markdown", "markdown",
				    "title", title, "text", text)
			: json_pack("{s:s, s:{s:s}}", "msgtype", "text", "text", "content", text);
		break;
	case WEBHOOK_WECOM: {
		size_t max = in->markdown ? WECOM_MARKDOWN_MAX : WECOM_TEXT_MAX;
		if (n > max) {
			rc = err_set(e, "too long: %zu bytes, wecom %s takes %zu", n,
				     in->markdown ? "markdown" : "text", max);
			goto out;
		}
		o = in->markdown
			? json_pack("{s:s, s:{s:s}}", "msgtype", "markdown", "markdown", "content",
				    text)
			: json_pack("{s:s, s:{s:s}}", "msgtype", "text", "text", "content", text);
		break;
	}
	case WEBHOOK_TELEGRAM: {
		if (!in->chat_id || !webhook_chat_id_ok(in->chat_id)) {
			rc = err_set(e, "invalid telegram chat id");
			goto out;
		}
		size_t k;
		if (in->markdown) {
			html = webhook_telegram_html(text);
			k = html_visible_len(html);
		} else {
			k = utf16_len(text, n);
		}
		if (k > TELEGRAM_MAX) {
			rc = err_set(e, "too long: %zu characters, telegram takes %d", k,
				     TELEGRAM_MAX);
			goto out;
		}
		o = json_object();
		json_object_set_new(o, "chat_id", telegram_chat(in->chat_id));
		set_str(o, "text", html ? html : text);
		if (html)
			set_str(o, "parse_mode", "HTML");
		break;
	}
	case WEBHOOK_GENERIC:
		o = json_object();
		json_object_set_new(o, "send_id", json_integer((json_int_t)in->send_id));
		json_object_set_new(o, "campaign",
				    in->campaign ? json_string(in->campaign) : json_null());
		json_object_set_new(o, "step", json_integer(in->step));
		json_object_set_new(o, "to", in->to ? json_string(in->to) : json_null());
		set_str(o, "text", text);
		set_str(o, "format", in->markdown ? "markdown" : "text");
		/* a NULL from json_string (bad UTF-8) leaves the key out */
		if (json_object_size(o) != 6) {
			json_decref(o);
			o = NULL;
		}
		break;
	default:
		rc = err_set(e, "unknown flavor %d", (int)in->flavor);
		goto out;
	}
	if (!o) {
		rc = err_set(e, "%s payload: a value is not valid UTF-8", fl);
		goto out;
	}

	out->body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!out->body)
		log_panic("webhook: json_dumps failed");
	out->body_len = strlen(out->body);
	add_header(out, "Content-Type", "application/json; charset=utf-8");

	if (in->flavor == WEBHOOK_DINGTALK && secret) {
		char sign[45], param[160];
		struct buf enc = BUF_INIT;
		int64_t ms = in->now * 1000;
		webhook_dingtalk_sign(secret, ms, sign);
		for (const char *p = sign; *p; p++) {
			if (*p == '+')
				buf_puts(&enc, "%2B");
			else if (*p == '/')
				buf_puts(&enc, "%2F");
			else if (*p == '=')
				buf_puts(&enc, "%3D");
			else
				buf_putc(&enc, *p);
		}
		snprintf(param, sizeof(param), "timestamp=%lld&sign=%s", (long long)ms,
			 buf_cstr(&enc));
		buf_release(&enc);
		out->url = url_with(in->url, param);
	} else if (in->flavor == WEBHOOK_DISCORD && !strstr(in->url, "wait=")) {
		out->url = url_with(in->url, "wait=true");
	} else {
		out->url = xstrdup(in->url);
	}
	if (in->flavor == WEBHOOK_GENERIC && secret) {
		snprintf(out->ts, sizeof(out->ts), "%lld", (long long)in->now);
		webhook_generic_sign(secret, in->now, out->body, out->body_len, out->sig);
		add_header(out, "X-Outreach-Timestamp", out->ts);
		add_header(out, "X-Outreach-Signature", out->sig);
	}
out:
	if (o)
		json_decref(o);
	free(html);
	free(text);
	if (rc < 0)
		webhook_request_release(out);
	return rc;
}

void webhook_request_release(struct webhook_request *r)
{
	if (!r)
		return;
	free(r->url);
	free(r->body); /* json_dumps allocates with malloc */
	memset(r, 0, sizeof(*r));
}

/* ---- reading an answer ---- */

/* int_of - an integer member (also a numeric string), def when none */
static long long int_of(json_t *o, const char *key, long long def, int *found)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
	if (found)
		*found = 0;
	if (json_is_integer(v)) {
		if (found)
			*found = 1;
		return json_integer_value(v);
	}
	if (json_is_string(v)) {
		char *end;
		long long x = strtoll(json_string_value(v), &end, 10);
		if (*json_string_value(v) && !*end) {
			if (found)
				*found = 1;
			return x;
		}
	}
	return def;
}

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : "";
}

/* id_of - a string or integer "id" member as provider_id */
static void id_of(json_t *o, const char *key, struct delivery *d)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
	if (json_is_string(v))
		snprintf(d->provider_id, sizeof(d->provider_id), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(d->provider_id, sizeof(d->provider_id), "%lld",
			 (long long)json_integer_value(v));
}

static json_t *parse(const struct http_response *r)
{
	if (!r->body || !r->body_len)
		return NULL;
	return json_loadb(r->body, r->body_len, 0, NULL);
}

/* body_start - the start of the body on one line, for a reason */
static void body_start(const struct http_response *r, char *out, size_t n)
{
	size_t k = r->body ? r->body_len : 0;
	if (k > 120)
		k = 120;
	while (k > 0 && r->body && ((unsigned char)r->body[k] & 0xc0) == 0x80 && k < r->body_len)
		k--;
	snprintf(out, n, "%.*s", (int)k, r->body ? r->body : "");
	if (!out[0])
		snprintf(out, n, "%s", "(empty)");
}

/* ok_set - OK with http_classify's code kept and our own reason */
static void ok_set(struct delivery *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok_set(struct delivery *d, const char *fmt, ...)
{
	char code[sizeof(d->code)], reason[sizeof(d->reason)];
	va_list ap;
	snprintf(code, sizeof(code), "%s", d->code);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	transport_set(d, DELIVERY_OK, code, "%s", reason);
}

static void unexpected(enum webhook_flavor f, const struct http_response *r, struct delivery *d)
{
	char start[128];
	body_start(r, start, sizeof(start));
	transport_set(d, DELIVERY_FAIL, "unexpected", "%s: unexpected answer %ld: %s",
		      webhook_flavor_name(f), r->status, start);
}

/* errcode_answer - dingtalk and wecom: {"errcode": N, "errmsg": ...} */
static void errcode_answer(enum webhook_flavor f, const struct http_response *r, json_t *j,
			   struct delivery *d)
{
	int found;
	long long code = int_of(j, "errcode", 0, &found);
	if (!found) {
		unexpected(f, r, d);
		return;
	}
	if (code == 0) {
		ok_set(d, "%s accepted", webhook_flavor_name(f));
		return;
	}
	int busy = code == -1 || (f == WEBHOOK_DINGTALK && (code == 130101 || code == 410100)) ||
		   (f == WEBHOOK_WECOM && code == 45009);
	char c[32];
	snprintf(c, sizeof(c), "%s %lld", webhook_flavor_name(f), code);
	const char *msg = str_of(j, "errmsg");
	transport_set(d, busy ? DELIVERY_DEFER : DELIVERY_FAIL, c, "%s", *msg ? msg : "error");
}

static void feishu_answer(const struct http_response *r, json_t *j, struct delivery *d)
{
	int found;
	long long code = int_of(j, "code", 0, &found);
	const char *msg = str_of(j, "msg");
	if (!found) {
		code = int_of(j, "StatusCode", 0, &found);
		msg = str_of(j, "StatusMessage");
	}
	if (!found) {
		unexpected(WEBHOOK_FEISHU, r, d);
		return;
	}
	if (code == 0) {
		ok_set(d, "feishu accepted");
		return;
	}
	int busy = code == 11232 || code == 99991400 || code == -1;
	char c[32];
	snprintf(c, sizeof(c), "feishu %lld", code);
	transport_set(d, busy ? DELIVERY_DEFER : DELIVERY_FAIL, c, "%s", *msg ? msg : "error");
}

/* telegram_error - {"ok": false, ...}, whatever the HTTP status */
static void telegram_error(json_t *j, int personal, struct delivery *d)
{
	long long code = int_of(j, "error_code", 0, NULL);
	const char *desc = str_of(j, "description");
	json_t *params = json_object_get(j, "parameters");
	long long ra = int_of(params, "retry_after", 0, NULL);
	char c[32];
	snprintf(c, sizeof(c), "telegram %lld", code);
	int64_t keep_ra = d->retry_after;
	if (code == 429 || ra > 0 || code >= 500) {
		transport_set(d, DELIVERY_DEFER, c, "%s", *desc ? desc : "too many requests");
		d->retry_after = ra > keep_ra ? ra : keep_ra;
		return;
	}
	transport_set(d, DELIVERY_FAIL, c, "%s", *desc ? desc : "error");
	if (personal && (strstr(desc, "chat not found") || strstr(desc, "bot was blocked") ||
			 strstr(desc, "user is deactivated")))
		d->hard_bounce = 1;
}

void webhook_classify(enum webhook_flavor f, int personal, const struct http_response *r,
		      struct delivery *d)
{
	http_classify(r, d);
	json_t *j = parse(r);
	if (d->status != DELIVERY_OK) {
		/* telegram explains itself in the body, with its own retry_after */
		if (f == WEBHOOK_TELEGRAM && r->status && json_is_object(j) &&
		    json_is_false(json_object_get(j, "ok")))
			telegram_error(j, personal, d);
		/* so do the others on a 4xx: feishu answers its rate limit
		 * (11232) with a 400; their words and codes decide */
		if (d->status == DELIVERY_FAIL && r->status >= 400 && json_is_object(j)) {
			int found;
			if (f == WEBHOOK_FEISHU) {
				long long c = int_of(j, "code", 0, &found);
				if (!found)
					c = int_of(j, "StatusCode", 0, &found);
				if (found && c != 0)
					feishu_answer(r, j, d);
			} else if (f == WEBHOOK_DINGTALK || f == WEBHOOK_WECOM) {
				if (int_of(j, "errcode", 0, &found) != 0 && found)
					errcode_answer(f, r, j, d);
			}
		}
		if (j)
			json_decref(j);
		return;
	}
	switch (f) {
	case WEBHOOK_SLACK: {
		size_t k = r->body ? r->body_len : 0;
		while (k && isspace((unsigned char)r->body[k - 1]))
			k--;
		if (k == 2 && memcmp(r->body, "ok", 2) == 0)
			ok_set(d, "slack accepted");
		else
			unexpected(f, r, d);
		break;
	}
	case WEBHOOK_TEAMS:
		if (r->body && strstr(r->body, "HTTP error 429"))
			transport_set(d, DELIVERY_DEFER, "teams 429", "throttled: %s",
				      "Microsoft Teams endpoint returned HTTP error 429");
		else
			ok_set(d, "teams accepted");
		break;
	case WEBHOOK_DINGTALK:
	case WEBHOOK_WECOM:
		errcode_answer(f, r, j, d);
		break;
	case WEBHOOK_FEISHU:
		feishu_answer(r, j, d);
		break;
	case WEBHOOK_TELEGRAM:
		if (json_is_object(j) && json_is_true(json_object_get(j, "ok"))) {
			id_of(json_object_get(j, "result"), "message_id", d);
			ok_set(d, "telegram accepted%s%s", d->provider_id[0] ? " message " : "",
			       d->provider_id);
		} else if (json_is_object(j) && json_is_false(json_object_get(j, "ok"))) {
			telegram_error(j, personal, d);
		} else {
			unexpected(f, r, d);
		}
		break;
	case WEBHOOK_DISCORD:
	case WEBHOOK_GENERIC:
	default:
		id_of(j, "id", d);
		ok_set(d, "%s accepted%s%s", webhook_flavor_name(f),
		       d->provider_id[0] ? " id " : "", d->provider_id);
		break;
	}
	if (j)
		json_decref(j);
}

/* ---- the transport ---- */

struct webhook {
	enum webhook_flavor flavor;
	int markdown;
	int personal;	    /* `to:` names the contact's address */
	char *url;	    /* the group's endpoint, or telegram's; NULL when personal */
	const char *secret; /* borrowed from the environment, NULL: unsigned */
	const char *token;  /* telegram's bot token, borrowed; NULL when url given */
	char *title;	    /* the title option, NULL: derived */
	char *chat_id;	    /* telegram's group chat */
	int concurrency;
	struct http_client *http;
};

static int opt_chat_id(const struct config *cfg, const struct transport_conf *conf, char **out,
		       struct err *e)
{
	json_t *v = conf->opts ? json_object_get(conf->opts, "chat_id") : NULL;
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		*out = xasprintf("%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		*out = xstrdup(json_string_value(v));
	if (!*out || !webhook_chat_id_ok(*out)) {
		free(*out);
		*out = NULL;
		return transport_conf_err(
		    cfg, conf, "chat_id", e,
		    "chat_id must be a telegram chat id (a number, or @channel)");
	}
	return 0;
}

static int token_ok(const char *t)
{
	if (!t || !*t)
		return 0;
	for (const char *p = t; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != ':' && *p != '_' && *p != '-')
			return 0;
	return 1;
}

static void webhook_free(void *state)
{
	struct webhook *w = state;
	if (!w)
		return;
	if (w->http)
		http_client_free(w->http);
	free(w->url);
	free(w->title);
	free(w->chat_id);
	free(w);
}

static int webhook_create(const struct config *cfg, const struct transport_conf *conf, int flags,
			  void **state, struct err *e)
{
	const char *flavor, *url, *format, *title, *ca_file, *secret = NULL, *token = NULL;
	char *chat_id = NULL;
	long concurrency, timeout_ms;
	int f, personal = conf->to != NULL;

	if (transport_opt_str(cfg, conf, "flavor", &flavor, e) < 0)
		return -1;
	if (!flavor)
		return transport_conf_err(
		    cfg, conf, NULL, e,
		    "missing flavor (slack, teams, discord, feishu, dingtalk, "
		    "wecom, telegram or generic)");
	if ((f = webhook_flavor_parse(flavor)) < 0)
		return transport_conf_err(
		    cfg, conf, "flavor", e,
		    "unknown flavor \"%s\" (use slack, teams, discord, feishu, "
		    "dingtalk, wecom, telegram or generic)",
		    flavor);
	if (conf->channel != CHANNEL_CHAT)
		return transport_conf_err(cfg, conf, "channel", e,
					  "a webhook transport serves channel chat");
	if (transport_opt_str(cfg, conf, "url", &url, e) < 0 ||
	    transport_opt_str(cfg, conf, "format", &format, e) < 0 ||
	    transport_opt_str(cfg, conf, "title", &title, e) < 0 ||
	    transport_opt_str(cfg, conf, "ca_file", &ca_file, e) < 0 ||
	    transport_opt_int(cfg, conf, "concurrency", 4, 1, 64, &concurrency, e) < 0 ||
	    transport_opt_duration_ms(cfg, conf, "timeout", 10000, &timeout_ms, e) < 0)
		return -1;
	/* never quote a url: its query or path is a credential */
	if (url && !webhook_url_ok(url))
		return transport_conf_err(
		    cfg, conf, "url", e,
		    "url must start with https:// or http:// and hold no blanks");
	if (format && strcmp(format, "markdown") != 0 && strcmp(format, "text") != 0)
		return transport_conf_err(cfg, conf, "format", e,
					  "format must be markdown or text, not \"%s\"", format);
	if (f == WEBHOOK_TELEGRAM) {
		if (opt_chat_id(cfg, conf, &chat_id, e) < 0)
			return -1;
		if (personal && chat_id) {
			free(chat_id);
			return transport_conf_err(
			    cfg, conf, "chat_id", e,
			    "chat_id is for a group chat; this transport sends "
			    "to each contact's %s",
			    conf->to);
		}
		if (!personal && !chat_id)
			return transport_conf_err(cfg, conf, NULL, e,
						  "a telegram transport needs chat_id (a group) or "
						  "to: (the contact field holding the chat id)");
		if (!url) {
			if (transport_secret(cfg, conf, "token_env", flags, &token, e) < 0) {
				free(chat_id);
				return -1;
			}
			if (!json_object_get(conf->opts, "token_env")) {
				free(chat_id);
				return transport_conf_err(
				    cfg, conf, NULL, e,
				    "a telegram transport needs token_env (the "
				    "variable holding the bot token) or url");
			}
			if (token && !token_ok(token)) {
				free(chat_id);
				return transport_conf_err(
				    cfg, conf, "token_env", e,
				    "token_env names a variable that does not "
				    "hold a bot token");
			}
		}
	} else {
		if (json_object_get(conf->opts, "chat_id"))
			return transport_conf_err(cfg, conf, "chat_id", e,
						  "chat_id is for flavor telegram");
		if (json_object_get(conf->opts, "token_env"))
			return transport_conf_err(cfg, conf, "token_env", e,
						  "token_env is for flavor telegram");
		if (!personal && !url)
			return transport_conf_err(
			    cfg, conf, NULL, e,
			    "missing url (or to: naming the contact attribute "
			    "that holds each contact's webhook url)");
		if (personal && url)
			return transport_conf_err(
			    cfg, conf, "url", e,
			    "url is not used: to: names the contact attribute "
			    "that holds each contact's webhook url");
	}
	if (f == WEBHOOK_FEISHU || f == WEBHOOK_DINGTALK || f == WEBHOOK_GENERIC) {
		if (transport_secret(cfg, conf, "secret_env", flags, &secret, e) < 0) {
			free(chat_id);
			return -1;
		}
	} else if (json_object_get(conf->opts, "secret_env")) {
		free(chat_id);
		return transport_conf_err(cfg, conf, "secret_env", e,
					  "secret_env is for flavors feishu, dingtalk and generic");
	}
	if (ca_file && !(flags & TRANSPORT_CHECK) && access(ca_file, R_OK) < 0) {
		free(chat_id);
		return transport_conf_err(cfg, conf, "ca_file", e, "cannot read ca_file \"%s\"",
					  ca_file);
	}
	if (flags & TRANSPORT_CHECK) {
		free(chat_id);
		return 0;
	}

	struct webhook *w = xcalloc(1, sizeof(*w));
	w->flavor = (enum webhook_flavor)f;
	w->markdown = !format || strcmp(format, "markdown") == 0;
	w->personal = personal;
	w->secret = secret;
	w->token = token;
	w->title = xstrdup(title);
	w->chat_id = chat_id;
	w->concurrency = (int)concurrency;
	if (url)
		w->url = xstrdup(url);
	else if (f == WEBHOOK_TELEGRAM)
		w->url = xasprintf("%s%s/sendMessage", TELEGRAM_API, token);
	struct http_client_opts ho = {
	    .concurrency = (int)concurrency,
	    .timeout_ms = timeout_ms,
	    .ca_file = ca_file,
	};
	w->http = http_client_create(&ho);
	*state = w;
	return 0;
}

/* scrub - replace each occurrence of needle[0..nlen) in s by "***", and
 * a start of it (6 bytes or more) that ends s, where a server's words
 * were cut short; needles shorter than min are left alone (they would
 * blank innocent words) */
static void scrub(char *s, size_t cap, const char *needle, size_t nlen, size_t min)
{
	if (!needle || nlen < min || nlen == 0)
		return;
	char *p;
	while ((p = memmem(s, strlen(s), needle, nlen))) {
		size_t tail = strlen(p + nlen);
		if ((size_t)(p - s) + 3 + tail >= cap)
			tail = cap - (size_t)(p - s) - 4;
		memmove(p + 3, p + nlen, tail);
		p[3 + tail] = '\0';
		memcpy(p, "***", 3);
	}
	size_t n = strlen(s);
	for (size_t k = nlen - 1; k >= 6; k--)
		if (n >= k && memcmp(s + n - k, needle, k) == 0) {
			memcpy(s + n - k, "***", 4);
			break;
		}
}

struct needles {
	const char *secret, *token, *url1, *url2;
};

/* scrub_url - the url, its path and query, and each path segment or
 * query value long enough to be a token, out of s */
static void scrub_url(char *s, size_t cap, const char *url)
{
	if (!url)
		return;
	scrub(s, cap, url, strlen(url), 8);
	const char *host = strstr(url, "://");
	const char *path = host ? strpbrk(host + 3, "/?") : NULL;
	if (!path)
		return;
	scrub(s, cap, path, strlen(path), 8);
	const char *q = strchr(path, '?');
	if (q)
		scrub(s, cap, q + 1, strlen(q + 1), 8);
	/* the pieces: between '/', '?', '&', '=' and '#' */
	for (const char *p = path; *p;) {
		size_t k = strcspn(p, "/?&=#");
		scrub(s, cap, p, k, 16);
		p += k;
		if (*p)
			p++;
	}
}

/* scrub_all - every secret this request knows of out of s */
static void scrub_all(char *s, size_t cap, const struct needles *nd)
{
	scrub(s, cap, nd->secret, nd->secret ? strlen(nd->secret) : 0, 4);
	scrub(s, cap, nd->token, nd->token ? strlen(nd->token) : 0, 4);
	scrub_url(s, cap, nd->url1);
	scrub_url(s, cap, nd->url2);
}

/* judge - the outcome of request j (message i), scrubbed of the secrets */
static void judge(struct webhook *w, struct webhook_request *wr, struct http_response *r,
		  struct delivery *d)
{
	struct needles nd = {w->secret, w->token, wr->url, w->url};
	/* a server may echo the request: scrub its words before they
	 * are cut short into a reason, then the reason itself */
	if (r->body) {
		scrub_all(r->body, r->body_len + 1, &nd);
		r->body_len = strlen(r->body);
	}
	scrub_all(r->error, sizeof(r->error), &nd);
	webhook_classify(w->flavor, w->personal, r, d);
	scrub_all(d->reason, sizeof(d->reason), &nd);
	scrub_all(d->code, sizeof(d->code), &nd);
	scrub_all(d->provider_id, sizeof(d->provider_id), &nd);
	http_response_release(r);
}

/* deliver - the batch's requests go out in waves of `concurrency` (one per
 * connection); each wave's outcomes go back as it ends, and the next wave
 * waits until they are recorded (transport.h: deliver_acked) */
static int webhook_deliver(void *state, const struct message *const *m, size_t n, int64_t now,
			   struct delivery *d, struct transport_acks *a)
{
	struct webhook *w = state;
	struct webhook_request *wr = xcalloc(n, sizeof(*wr));
	struct http_request *req = xcalloc(n, sizeof(*req));
	struct http_response *resp = xcalloc(n, sizeof(*resp));
	size_t *idx = xcalloc(n, sizeof(*idx));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const char *to = m[i]->to;
		struct webhook_input in = {
		    .flavor = w->flavor,
		    .markdown = w->markdown,
		    .url = w->url,
		    .text = m[i]->text,
		    .title = w->title,
		    .chat_id = w->chat_id,
		    .secret = w->secret,
		    .now = now,
		    .send_id = m[i]->send_id,
		    .campaign = m[i]->campaign,
		    .step = m[i]->step,
		    .to = to,
		};
		struct err e;
		err_clear(&e);
		if (w->personal && (!to || !*to)) {
			transport_set(&d[i], DELIVERY_FAIL, "invalid", "message has no recipient");
			continue;
		}
		if (w->personal && w->flavor == WEBHOOK_TELEGRAM) {
			in.chat_id = to;
		} else if (w->personal) {
			if (!webhook_url_ok(to)) {
				/* the contact's url is a credential: never quoted */
				transport_set(&d[i], DELIVERY_FAIL, "invalid",
					      "invalid webhook url");
				continue;
			}
			in.url = to;
		}
		if (webhook_build(&in, &wr[i], &e) < 0) {
			transport_set(&d[i], DELIVERY_FAIL, "invalid", "%s", e.msg);
			if (w->flavor == WEBHOOK_TELEGRAM && w->personal &&
			    strcmp(e.msg, "invalid telegram chat id") == 0)
				d[i].hard_bounce = 1;
			continue;
		}
		req[k] = (struct http_request){
		    .method = "POST",
		    .url = wr[i].url,
		    .headers = wr[i].headers,
		    .nheaders = wr[i].nheaders,
		    .body = wr[i].body,
		    .body_len = wr[i].body_len,
		};
		idx[k++] = i;
	}
	for (size_t i = 0, j = 0; i < n; i++) {
		if (j < k && idx[j] == i)
			j++;
		else
			transport_ack(a, i); /* not sent: nothing to wait for */
	}
	size_t wave = (size_t)w->concurrency, j = 0;
	int stop = 0;
	for (size_t w0 = 0; w0 < k && !stop; w0 += wave) {
		size_t cnt = k - w0 < wave ? k - w0 : wave;
		http_client_run(w->http, req + w0, cnt, resp + w0);
		for (j = w0; j < w0 + cnt; j++) {
			judge(w, &wr[idx[j]], &resp[j], &d[idx[j]]);
			transport_ack(a, idx[j]);
		}
		for (j = w0; j < w0 + cnt; j++)
			if (transport_ack_wait(a, idx[j]) < 0)
				stop = 1;
	}
	for (; j < k; j++)
		transport_set(&d[idx[j]], DELIVERY_DEFER, "stopped",
			      "not sent: the worker stopped recording outcomes");
	for (size_t i = 0; i < n; i++)
		webhook_request_release(&wr[i]);
	free(wr);
	free(req);
	free(resp);
	free(idx);
	return 0;
}

/* threads - one: the HTTP engine runs a batch's requests at once itself */
static int webhook_threads(void *state)
{
	(void)state;
	return 1;
}

static size_t webhook_batch(void *state)
{
	struct webhook *w = state;
	return w ? (size_t)w->concurrency * 4 : 4;
}

static const char *const webhook_keys[] = {"flavor", "url", "token_env", "secret_env", "format", "title", "chat_id", "concurrency", "timeout", "ca_file", NULL};

const struct transport_ops transport_webhook = {
    .kind = "webhook",
    .keys = webhook_keys,
    .create = webhook_create,
    .deliver_acked = webhook_deliver,
    .threads = webhook_threads,
    .batch = webhook_batch,
    .free = webhook_free,
};
