/* render.h - from a send to its text: template lookup and rendering.
 *
 * Templates live in TEMPLATES/NAME/KIND[.SEGMENT][.LOCALE].EXT (KIND email,
 * sms or chat); the most specific file that exists wins: segment and
 * locale, segment, locale, plain. Segments are tried in config order, a
 * locale "zh-CN" as "zh-CN" then "zh". email.txt starts with header lines
 * (Subject: required) and a blank line; email.html beside it (same
 * qualifiers) makes a multipart/alternative message. Parsed templates are
 * cached, so each file is compiled once per process.
 */
#ifndef OUTREACH_RENDER_H
#define OUTREACH_RENDER_H
#include <jansson.h>
#include <stddef.h>

#include "contact.h"
#include "diag.h"
#include "err.h"
#include "message.h"

struct renderer;

struct rendered {
	char *subject;          /* email only */
	char *text;
	char *html;             /* MAY be NULL */
	struct header *headers; /* extra email headers (owned names and values) */
	size_t nheaders;
	char *path;             /* the template file used */
	char *segment;          /* the segment whose file was picked, or NULL */
};

/* renderer_create - dir is the templates folder (borrowed) */
struct renderer *renderer_create(const char *dir);
void renderer_free(struct renderer *r);

/* render_refresh - forget which template files exist: render_find and
 * render_message look each path up once and remember the answer until
 * this is called (the worker calls it once a pass) */
void render_refresh(struct renderer *r);

/* render_find - the most specific existing file for (name, kind, segments,
 * locale, ext) or NULL; *segment_used set to the matching segment or NULL.
 * Caller frees. */
char *render_find(const struct renderer *r, const char *name, enum channel_kind kind,
		  char *const *segments, size_t nseg, const char *locale, const char *ext,
		  const char **segment_used);

/* render_message - render template name for channel kind against ctx */
int render_message(struct renderer *r, const char *name, enum channel_kind kind,
		   char *const *segments, size_t nseg, const char *locale, json_t *ctx,
		   struct rendered *out, struct err *e);
void rendered_release(struct rendered *m);

/* render_context - the data a template sees: every contact field and
 * attribute, event.* (type, at and the event's data), segment, segments,
 * campaign, step (1-based), and the urls given (NULL: absent). Caller decrefs. */
json_t *render_context(const struct contact *c, const struct event *ev, char *const *segments,
		       size_t nseg, const char *segment, const char *campaign, int step,
		       const char *unsubscribe_url, const char *survey_url);

/* render_check_template - parse every file of template `name` for kind,
 * report syntax errors, a missing plain file, a missing Subject, and
 * variables outside any section that `known` does not provide (known(ud,
 * name) returns 1 when provided) */
void render_check_template(const struct renderer *r, const char *name, enum channel_kind kind,
			   int (*known)(void *ud, const char *var), void *ud, struct diag *d,
			   const char *cfg_file, int cfg_line);

/* render_uses - 1 when any file of template name for kind (every segment
 * and locale, text and HTML) names root ("stats" for {{stats.x}} or
 * {{#stats}}) or "." (which may be the whole context); answered once per (name, kind, root) and remembered, so a
 * caller can skip work the templates never read */
int render_uses(struct renderer *r, const char *name, enum channel_kind kind, const char *root);

/* render_each_bare - call fn with each text file of template name for kind
 * (not .html) and its body rendered with no data: the fixed text, the
 * least any contact gets (for limits such as SMS max_segments) */
void render_each_bare(struct renderer *r, const char *name, enum channel_kind kind,
		      void (*fn)(void *ud, const char *path, const char *text), void *ud);

#endif
