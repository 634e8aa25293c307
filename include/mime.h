/* mime.h - RFC 5322 / MIME messages from a struct message */
#ifndef OUTREACH_MIME_H
#define OUTREACH_MIME_H
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "message.h"

/* mime_build - a complete message with CRLF line ends: Date (from now),
 * From, To (display name from to_name), Subject, Message-ID, MIME-Version,
 * the extra headers, and for marketing mail with an unsubscribe_url
 * List-Unsubscribe: <URL> and List-Unsubscribe-Post: List-Unsubscribe=One-Click.
 * Non-ASCII header text is RFC 2047 encoded (UTF-8, B or Q, folded under
 * 76 columns, never splitting a UTF-8 sequence); display names with
 * specials are quoted. The body is text/plain; charset=UTF-8, or
 * multipart/alternative (text then html) when html is set; each part is
 * 7bit when pure ASCII with short lines, else quoted-printable.
 * Fails (-1) when a header value holds CR or LF, or from/to is missing. */
int mime_build(const struct message *m, int64_t now, struct buf *out, struct err *e);

/* mime_encode_word - RFC 2047 encode one header value (unchanged if ASCII)
 * into out; used by mime_build and the SMTP transport. */
void mime_encode_header(const char *name, const char *value, struct buf *out);
/* mime_qp - quoted-printable body (RFC 2045), CRLF line ends */
void mime_qp(const char *s, size_t len, struct buf *out);

#endif
