/* links.h - link and open tracking at render time.
 *
 * Every http(s) link of a rendered message becomes BASE/c/TOKEN, TOKEN the
 * signed click token of the send and the link's index (track.h, kind 'c');
 * HTML email gets an open pixel BASE/o/TOKEN. The original URLs come back in
 * index order for the store (store_links_add), so that a click redirects
 * only to a link the message really held. Where tracking is on is decided
 * by links_tracking_on from the config (`track:` on the campaign, else on
 * the transport, else on for email and off for sms and chat).
 */
#ifndef OUTREACH_LINKS_H
#define OUTREACH_LINKS_H
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "contact.h"
#include "diag.h"
#include "render.h"

/* at most this many distinct links are tracked per message; the rest stay
 * as they are */
#define LINKS_MAX 500

/* The rewritten message and its links; every string owned. */
struct links {
	char *text;  /* NULL when the input text was NULL */
	char *html;  /* NULL when the input html was NULL */
	char **urls; /* urls[i] is link i + 1, as the recipient's client would
	              * follow it (HTML entities such as &amp; decoded) */
	size_t n;
};

/* links_rewrite - rewrite m's text and html for channel ch (email: text
 * and HTML; sms: text; chat: markdown), pure: m is not changed.
 * - text and markdown: bare http(s) URLs and the targets of [label](url)
 *   (and [label](url "title")); a bare URL ends at a space, a control, a
 *   non-ASCII character (Chinese text or punctuation around it), a bracket
 *   (but for an IPv6 host) or one of <>"`{}|\^; trailing . , ; : ! ? ' * _
 *   ~ and a ) without its ( are not part of it; a label, a title and an
 *   image's target ![alt](url) are left as they are;
 * - HTML: only the href of <a> elements (any case, quoted or not); not
 *   src, mailto:, tel:, comments, or anything inside script, style, title
 *   or textarea; the new value is written HTML-escaped, the rest of the
 *   document byte for byte;
 * - a URL that starts with base_url (unsubscribe_url, survey_url: already
 *   ours) is never rewritten, nor one holding a control character (in
 *   HTML after tabs and line ends are dropped, as browsers do);
 * - index i is given to distinct URLs in order of first appearance, text
 *   first then HTML, so the same URL in both gets the same index;
 * - email HTML gets <img src="BASE/o/TOKEN" width="1" height="1" alt=""
 *   style="display:none"> before the last </body>, else at the end when
 *   the document does not end inside a tag, comment or script, unless it
 *   already holds one of ours.
 * base_url, secret borrowed; out is filled (links_release). */
void links_rewrite(const struct rendered *m, enum channel_kind ch, const char *base_url,
		   const char *secret, int64_t send_id, struct links *out);
/* links_take - put l's text and html into m in place of m's (which are
 * freed); l keeps its urls */
void links_take(struct links *l, struct rendered *m);
void links_release(struct links *l);

/* links_tracking_on - 1 when sends of campaign (by name) through tc are
 * tracked: the campaign's `track`, else the transport's, else 1 for email
 * and 0 for sms and chat. A value that is not a boolean counts as absent
 * (links_check_config reports it). */
int links_tracking_on(const struct config *cfg, const char *campaign,
		      const struct transport_conf *tc);
/* links_check_config - one "FILE:LINE: ..." error in d for each `track`
 * (campaigns, transports) that is not true or false; returns their number */
int links_check_config(const struct config *cfg, struct diag *d);

#endif
