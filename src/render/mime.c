/* mime.c - RFC 5322 / MIME messages built from a struct message
 *
 * Headers end in CRLF and are folded so that no line passes 75 columns
 * where folding can do it. Non-ASCII text in Subject, display names and
 * extra headers becomes RFC 2047 "B" encoded-words, each at most 75
 * characters and each holding whole UTF-8 sequences only, so every word
 * decodes on its own. A body part is 7bit when it is ASCII with lines of at
 * most 998 octets, else quoted-printable, so the output is always 7-bit
 * clean. The multipart boundary starts with "=_", which quoted-printable
 * can never produce, and is checked against both encoded parts anyway.
 *
 * Security: every value the caller gives is checked for CR and LF before
 * anything is written (header injection), and addresses may not hold the
 * characters that would add recipients or close the angle brackets.
 */
#include "mime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "utf8.h"
#include "xmalloc.h"

#define HDR_COLS 75	  /* fold header lines at this width, CRLF excluded */
#define WORD_MAX 75	  /* RFC 2047: one encoded-word */
#define WORD_RUN_MAX 900  /* an ASCII word this long is encoded so lines stay under 998 */
#define BODY_LINE_MAX 998 /* RFC 5322 hard limit, CRLF excluded */
#define QP_COLS 76	  /* RFC 2045, the soft-break "=" included */

struct mailbox {
	char *name; /* display name, unquoted; "" when none */
	char *addr;
};

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

/* utf8_seqlen - bytes in the sequence starting at p; 1 for a byte that
 * starts no valid sequence, so invalid input is never stuck */
static size_t utf8_seqlen(const unsigned char *p, size_t n)
{
	size_t len = utf8_len(p, n);
	return len ? len : 1;
}

static void b64_append(struct buf *out, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		buf_append(out, q, 4);
	}
}

/* needs_words - 1 when unstructured text cannot go out as it is: 8-bit
 * bytes, controls, something a reader would take for an encoded-word, or a
 * word too long to fit a line */
static int needs_words(const char *s, size_t len)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x7f || (c < 0x20 && c != '\t'))
			return 1;
		if (c == '=' && i + 1 < len && s[i + 1] == '?')
			return 1;
		run = is_wsp(c) ? 0 : run + 1;
		if (run > WORD_RUN_MAX)
			return 1;
	}
	return 0;
}

/* put_words - s as encoded-words from column *col; sep asks for a space
 * before the first word. Words after the first go on folded lines. */
static void put_words(struct buf *out, size_t *col, const char *s, size_t len, int sep)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t room = HDR_COLS > *col + sep ? HDR_COLS - *col - sep : 0;
		if (room > WORD_MAX)
			room = WORD_MAX;
		/* "=?UTF-8?B?" + "?=" is 12; base64 is 4 per 3 bytes */
		size_t maxbytes = room >= 12 + 4 ? (room - 12) / 4 * 3 : 0;
		size_t n = 0;
		while (i + n < len) {
			size_t k = utf8_seqlen(p + i + n, len - i - n);
			if (n + k > maxbytes)
				break;
			n += k;
		}
		if (n == 0) {
			/* not one character fits after a long name: fold first
			 * (a fresh line holds 45 bytes, so this happens once) */
			buf_puts(out, "\r\n ");
			*col = 1;
			sep = 0;
			continue;
		}
		if (sep)
			buf_putc(out, ' ');
		buf_puts(out, "=?UTF-8?B?");
		b64_append(out, p + i, n);
		buf_puts(out, "?=");
		*col += sep + 12 + (n + 2) / 3 * 4;
		i += n;
		if (i < len) {
			buf_puts(out, "\r\n");
			*col = 0;
			sep = 1;
		}
	}
}

/* put_text - ASCII text as it is, after a space, folded before whitespace
 * where a line would pass HDR_COLS; unfolding gives back the exact text */
static void put_text(struct buf *out, size_t *col, const char *s, size_t len)
{
	if (len == 0)
		return;
	buf_putc(out, ' ');
	(*col)++;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && is_wsp(s[j]))
			j++;
		int blank = j == len; /* a line of only whitespace is not allowed */
		while (j < len && !is_wsp(s[j]))
			j++;
		size_t n = j - i;
		if (i > 0 && !blank && *col + n > HDR_COLS) {
			buf_puts(out, "\r\n");
			*col = 0;
		}
		buf_append(out, s + i, n);
		*col += n;
		i = j;
	}
}

void mime_encode_header(const char *name, const char *value, struct buf *out)
{
	size_t col = strlen(name) + 1, len = value ? strlen(value) : 0;
	buf_puts(out, name);
	buf_putc(out, ':');
	/* CR and LF (which mime_build rejects) end up base64'd, never raw */
	if (needs_words(value, len))
		put_words(out, &col, value, len, 1);
	else
		put_text(out, &col, value, len);
	buf_puts(out, "\r\n");
}

static int is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* put_phrase - a display name: atoms as they are, else encoded-words when
 * it has 8-bit or control characters, else a quoted-string */
static void put_phrase(struct buf *out, size_t *col, const char *name)
{
	size_t len = strlen(name);
	int atoms =
	    len > 0 && !is_wsp(name[0]) && !is_wsp(name[len - 1]) && strstr(name, "=?") == NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 0x7f || c < 0x20) {
			put_words(out, col, name, len, 1);
			return;
		}
		if (!is_atext(c) && !(c == ' ' && name[i + 1] != ' '))
			atoms = 0;
	}
	if (atoms) {
		put_text(out, col, name, len);
		return;
	}
	buf_puts(out, " \"");
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '"' || name[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, name[i]);
	}
	buf_putc(out, '"');
	*col += len + 3;
}

/* addr_ok - a plain addr-spec: printable ASCII, one '@' with text on both
 * sides, nothing that could end the brackets or add a recipient */
static int addr_ok(const char *a)
{
	const char *at = strchr(a, '@');
	if (!at || at == a || at[1] == '\0' || strchr(at + 1, '@'))
		return 0;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>,;:\"()\\", *p))
			return 0;
	return 1;
}

static void mailbox_release(struct mailbox *mb)
{
	free(mb->name);
	free(mb->addr);
	mb->name = mb->addr = NULL;
}

/* mailbox_parse - "Name <addr>", "\"Name, Inc.\" <addr>", "<addr>" or
 * "addr"; -1 when no plain address is found */
static int mailbox_parse(const char *s, struct mailbox *mb)
{
	const char *b = s, *end = s + strlen(s);
	mb->name = mb->addr = NULL;
	while (b < end && is_wsp(*b))
		b++;
	while (end > b && is_wsp(end[-1]))
		end--;
	if (end > b && end[-1] == '>') {
		const char *lt = end - 1;
		while (lt > b && *lt != '<')
			lt--;
		if (*lt != '<')
			return -1;
		mb->addr = xstrndup(lt + 1, (size_t)(end - 1 - lt - 1));
		const char *ne = lt;
		while (ne > b && is_wsp(ne[-1]))
			ne--;
		if (ne - b >= 2 && *b == '"' && ne[-1] == '"') {
			struct buf nb = BUF_INIT;
			for (const char *p = b + 1; p < ne - 1; p++) {
				if (*p == '\\' && p + 1 < ne - 1)
					p++;
				buf_putc(&nb, *p);
			}
			mb->name = buf_detach(&nb);
		} else {
			mb->name = xstrndup(b, (size_t)(ne - b));
			/* an unquoted name with these is not one mailbox */
			if (strpbrk(mb->name, "<>,;:@\"\\")) {
				mailbox_release(mb);
				return -1;
			}
		}
	} else {
		mb->name = xstrdup("");
		mb->addr = xstrndup(b, (size_t)(end - b));
	}
	if (!addr_ok(mb->addr)) {
		mailbox_release(mb);
		return -1;
	}
	return 0;
}

static void put_mailbox(struct buf *out, const char *hname, const char *name, const char *addr)
{
	size_t col = strlen(hname) + 1;
	buf_puts(out, hname);
	buf_putc(out, ':');
	if (name && *name) {
		put_phrase(out, &col, name);
		if (col + 3 + strlen(addr) > HDR_COLS)
			buf_puts(out, "\r\n");
		buf_puts(out, " <");
		buf_puts(out, addr);
		buf_putc(out, '>');
	} else {
		buf_putc(out, ' ');
		buf_puts(out, addr);
	}
	buf_puts(out, "\r\n");
}

/* Headers mime_build writes itself; a template may not add them again. */
static const char *const own_headers[] = {
    "Date",
    "From",
    "To",
    "Subject",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
};

/* Extra headers that hold addresses: a non-ASCII one is one mailbox whose
 * display name gets encoded, never the whole value. */
static const char *const address_headers[] = {"Reply-To", "Cc", "Bcc", "Sender"};

static int name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

static int field_name_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 || *s == ':')
			return 0;
	return 1;
}

static int url_ok(const char *s)
{
	if (strlen(s) > WORD_RUN_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '<' ||
		    *s == '>')
			return 0;
	return 1;
}

/* check_values - every caller-given value, before anything is written */
static int check_values(const struct message *m, struct err *e)
{
	static const char crlf[] = "header \"%s\" contains CR or LF";
	if (has_crlf(m->from))
		return err_set(e, crlf, "From");
	if (has_crlf(m->to) || has_crlf(m->to_name))
		return err_set(e, crlf, "To");
	if (has_crlf(m->subject))
		return err_set(e, crlf, "Subject");
	if (has_crlf(m->message_id))
		return err_set(e, crlf, "Message-ID");
	if (has_crlf(m->unsubscribe_url))
		return err_set(e, crlf, "List-Unsubscribe");
	if (!m->from || !*m->from)
		return err_set(e, "missing From address");
	if (!m->to || !*m->to)
		return err_set(e, "missing To address");
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct header *h = &m->headers[i];
		if (!field_name_ok(h->name))
			return err_set(e, "extra header %zu: bad field name", i + 1);
		if (has_crlf(h->value))
			return err_set(e, crlf, h->name);
		if (name_in(h->name, own_headers, sizeof(own_headers) / sizeof(*own_headers)))
			return err_set(
			    e, "header \"%s\" is set by the message, not as an extra header",
			    h->name);
	}
	if (!addr_ok(m->to))
		return err_set(e, "header \"To\": not a plain email address");
	if (m->message_id && *m->message_id) {
		const char *id = m->message_id;
		size_t n = strlen(id);
		int bad = n > WORD_RUN_MAX || (id[0] == '<') != (id[n - 1] == '>');
		for (const char *p = id; *p; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				bad = 1;
		if (bad)
			return err_set(e, "header \"Message-ID\": not a message id");
	}
	if (m->marketing && m->unsubscribe_url && *m->unsubscribe_url &&
	    !url_ok(m->unsubscribe_url))
		return err_set(e, "header \"List-Unsubscribe\": URL must be printable ASCII "
				  "without spaces or angle brackets, at most 900 octets");
	return 0;
}

static int put_date(struct buf *out, int64_t now, struct err *e)
{
	static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)now;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1900 || tm.tm_year + 1900 > 9999)
		return err_set(e, "header \"Date\": time %lld out of range", (long long)now);
	buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", wday[tm.tm_wday],
		   tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/* body_7bit - 1 when s can go out as 7bit: ASCII without NUL or bare CR,
 * every line at most 998 octets */
static int body_7bit(const char *s, size_t len)
{
	size_t line = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0 || c >= 0x80)
			return 0;
		if (c == '\r') {
			if (i + 1 >= len || s[i + 1] != '\n')
				return 0;
			continue;
		}
		if (c == '\n') {
			line = 0;
			continue;
		}
		if (++line > BODY_LINE_MAX)
			return 0;
	}
	return 1;
}

/* put_7bit - s with LF and CRLF line ends as CRLF */
static void put_7bit(struct buf *out, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (s + i)) : len - i;
		size_t keep = n > 0 && s[i + n - 1] == '\r' ? n - 1 : n;
		buf_append(out, s + i, keep);
		if (!nl)
			break;
		buf_puts(out, "\r\n");
		i += n + 1;
	}
}

void mime_qp(const char *s, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' || (c == '\r' && i + 1 < len && s[i + 1] == '\n')) {
			buf_puts(out, "\r\n");
			col = 0;
			if (c == '\r')
				i++;
			continue;
		}
		/* the last octet before a hard line break or the end of the text */
		int last = i + 1 == len || s[i + 1] == '\n' ||
			   (s[i + 1] == '\r' && i + 2 < len && s[i + 2] == '\n');
		int lit = (c >= 33 && c <= 126 && c != '=') || (is_wsp(c) && !last);
		size_t w = lit ? 1 : 3;
		/* keep a UTF-8 sequence on one line, for readers that decode
		 * line by line */
		size_t k = c >= 0xc0 ? utf8_seqlen((const unsigned char *)s + i, len - i) : 1;
		if (k > 1) {
			size_t j = i + k - 1;
			int seq_last = j + 1 == len || s[j + 1] == '\n' ||
				       (s[j + 1] == '\r' && j + 2 < len && s[j + 2] == '\n');
			if (col + 3 * k > (seq_last ? QP_COLS : QP_COLS - 1)) {
				buf_puts(out, "=\r\n");
				col = 0;
			}
		}
		/* a line may reach 76 only when no soft break "=" follows it */
		if (col + w > (last ? QP_COLS : QP_COLS - 1)) {
			buf_puts(out, "=\r\n");
			col = 0;
		}
		if (lit) {
			buf_putc(out, (char)c);
		} else {
			char q[3] = {'=', hex[c >> 4], hex[c & 15]};
			buf_append(out, q, 3);
		}
		col += w;
	}
	/* end on a line break without adding one to the text */
	if (len > 0 && s[len - 1] != '\n')
		buf_puts(out, "=\r\n");
}

/* put_part - Content-Type and Content-Transfer-Encoding lines, a blank
 * line, then the encoded text into body */
static void put_part(struct buf *hdr, struct buf *body, const char *type, const char *s)
{
	size_t len = s ? strlen(s) : 0;
	int seven = body_7bit(s ? s : "", len);
	buf_printf(hdr, "Content-Type: %s; charset=UTF-8\r\n", type);
	buf_printf(hdr, "Content-Transfer-Encoding: %s\r\n", seven ? "7bit" : "quoted-printable");
	if (seven)
		put_7bit(body, s, len);
	else
		mime_qp(s, len, body);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* put_body - the content headers, the blank line and the body */
static void put_body(struct buf *out, const struct message *m)
{
	struct buf th = BUF_INIT, tb = BUF_INIT;
	put_part(&th, &tb, "text/plain", m->text);
	if (!m->html || !*m->html) {
		buf_append(out, th.data, th.len);
		buf_puts(out, "\r\n");
		buf_append(out, buf_cstr(&tb), tb.len);
		/* a message ends on a line break (7bit text may lack one) */
		if (tb.len > 0 && tb.data[tb.len - 1] != '\n')
			buf_puts(out, "\r\n");
		buf_release(&th);
		buf_release(&tb);
		return;
	}

	struct buf hh = BUF_INIT, hb = BUF_INIT;
	put_part(&hh, &hb, "text/html", m->html);

	/* boundary: send id and a hash of the content; "=_" never occurs in
	 * quoted-printable, and the loop makes sure of 7bit parts */
	char boundary[80];
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, &m->send_id, sizeof(m->send_id));
	h = fnv1a(h, buf_cstr(&tb), tb.len);
	h = fnv1a(h, buf_cstr(&hb), hb.len);
	for (;;) {
		snprintf(boundary, sizeof(boundary), "=_outreach_%lld_%016llx",
			 (long long)m->send_id, (unsigned long long)h);
		if (!strstr(buf_cstr(&tb), boundary) && !strstr(buf_cstr(&hb), boundary))
			break;
		h = fnv1a(h, boundary, strlen(boundary));
	}

	buf_printf(out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n",
		   boundary);
	buf_printf(out, "--%s\r\n", boundary);
	buf_append(out, th.data, th.len);
	buf_puts(out, "\r\n");
	buf_append(out, buf_cstr(&tb), tb.len);
	buf_printf(out, "\r\n--%s\r\n", boundary);
	buf_append(out, hh.data, hh.len);
	buf_puts(out, "\r\n");
	buf_append(out, buf_cstr(&hb), hb.len);
	buf_printf(out, "\r\n--%s--\r\n", boundary);
	buf_release(&th);
	buf_release(&tb);
	buf_release(&hh);
	buf_release(&hb);
}

/* put_extra - one template header; the caller checked name and value */
static int put_extra(struct buf *out, const struct header *h, struct err *e)
{
	const char *v = h->value ? h->value : "";
	if (!name_in(h->name, address_headers,
		     sizeof(address_headers) / sizeof(*address_headers))) {
		mime_encode_header(h->name, v, out);
		return 0;
	}
	int plain = 1;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p >= 0x7f || ((unsigned char)*p < 0x20 && *p != '\t'))
			plain = 0;
	if (plain) {
		size_t col = strlen(h->name) + 1;
		buf_puts(out, h->name);
		buf_putc(out, ':');
		put_text(out, &col, v, strlen(v));
		buf_puts(out, "\r\n");
		return 0;
	}
	struct mailbox mb;
	if (mailbox_parse(v, &mb) < 0)
		return err_set(e, "header \"%s\": a non-ASCII value must be one \"Name <addr>\"",
			       h->name);
	put_mailbox(out, h->name, mb.name, mb.addr);
	mailbox_release(&mb);
	return 0;
}

int mime_build(const struct message *m, int64_t now, struct buf *out, struct err *e)
{
	struct buf b = BUF_INIT;
	struct mailbox from = {NULL, NULL};

	if (check_values(m, e) < 0)
		return -1;
	if (mailbox_parse(m->from, &from) < 0)
		return err_set(e, "header \"From\": no plain address in \"%s\"", m->from);
	if (put_date(&b, now, e) < 0)
		goto fail;
	put_mailbox(&b, "From", from.name, from.addr);
	put_mailbox(&b, "To", m->to_name, m->to);
	if (m->subject && *m->subject)
		mime_encode_header("Subject", m->subject, &b);
	if (m->message_id && *m->message_id) {
		int bare = m->message_id[0] != '<';
		buf_printf(&b, "Message-ID: %s%s%s\r\n", bare ? "<" : "", m->message_id,
			   bare ? ">" : "");
	} else {
		buf_printf(&b, "Message-ID: <outreach.%lld.%lld@%s>\r\n", (long long)m->send_id,
			   (long long)now, strchr(from.addr, '@') + 1);
	}
	buf_puts(&b, "MIME-Version: 1.0\r\n");
	for (size_t i = 0; i < m->nheaders; i++)
		if (put_extra(&b, &m->headers[i], e) < 0)
			goto fail;
	if (m->marketing && m->unsubscribe_url && *m->unsubscribe_url) {
		buf_printf(&b, "List-Unsubscribe: <%s>\r\n", m->unsubscribe_url);
		buf_puts(&b, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	}
	put_body(&b, m);
	buf_append(out, b.data, b.len);
	buf_release(&b);
	mailbox_release(&from);
	return 0;
fail:
	buf_release(&b);
	mailbox_release(&from);
	return -1;
}
