/* track.h - signed tokens for tracking, unsubscribe and survey links.
 *
 * A token is "KIND SEND . LINK . MAC": KIND one letter (o open, c click,
 * u unsubscribe, s survey, b bounce: the
 * VERP return path), SEND the send id, LINK the link's index (0 when
 * none), MAC the first 20 hex digits of HMAC-SHA256(secret, "KIND.SEND.LINK").
 */
#ifndef OUTREACH_TRACK_H
#define OUTREACH_TRACK_H
#include <stdint.h>

/* track_token - caller frees */
char *track_token(const char *secret, char kind, int64_t send_id, int link);
/* track_verify - 0 and the parts when the token is well formed and signed
 * with secret, -1 otherwise (forged, altered, truncated) */
int track_verify(const char *secret, const char *token, char *kind, int64_t *send_id, int *link);
/* track_url - base_url "/" path "/" token; caller frees */
char *track_url(const char *base_url, const char *secret, char kind, int64_t send_id, int link);

#endif
