/* dkim.h - DKIM signatures (RFC 6376): rsa-sha256, relaxed/relaxed */
#ifndef OUTREACH_DKIM_H
#define OUTREACH_DKIM_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct dkim_signer;

/* dkim_signer_create - load an RSA private key (PEM, PKCS#1 or PKCS#8)
 * from key_file for domain (d=) and selector (s=). headers: a colon list
 * of the header fields to sign (NULL: from:to:subject:date:message-id:
 * mime-version:content-type:list-unsubscribe:list-unsubscribe-post:
 * reply-to). Errors name the file. key_file NULL checks the other
 * arguments only (`outreach check`, where the key may be absent) and gives
 * a signer that cannot sign. Caller frees. Thread-safe to use from
 * several threads once created. */
struct dkim_signer *dkim_signer_create(const char *key_file, const char *domain,
				       const char *selector, const char *headers, struct err *e);
void dkim_signer_free(struct dkim_signer *s);
/* dkim_sign - msg is a whole message with CRLF line ends (as mime_build
 * makes it); append to out the "DKIM-Signature: ..." header field, folded,
 * ending in CRLF, to be put in front of msg. t= is now. */
int dkim_sign(const struct dkim_signer *s, const char *msg, size_t len, int64_t now,
	      struct buf *out, struct err *e);

/* dkim_canon_header - append the relaxed canonical form (RFC 6376
 * 3.4.2) of one header field, given as "Name: value" with its folds and
 * with or without its final CRLF: lowercase name, colon, the value
 * unfolded with runs of whitespace as one space and none at either end,
 * then CRLF */
void dkim_canon_header(const char *field, size_t len, struct buf *out);
/* dkim_canon_body - append the relaxed canonical body (RFC 6376 3.4.4):
 * whitespace at line ends removed, runs inside a line as one space,
 * empty lines at the end dropped, CRLF after the last line; "" for an
 * empty body */
void dkim_canon_body(const char *body, size_t len, struct buf *out);

#endif
