/*
 * hdrfilter.h - which client request headers may travel upstream.
 *
 * An allow-list, not a deny-list: the client's credentials (x-api-key,
 * authorization, cookies), hop-by-hop headers, Host, Content-Length,
 * Accept-Encoding (we want identity bodies to read usage) and proxy
 * headers never reach the upstream.
 */
#ifndef RELAY_HDRFILTER_H
#define RELAY_HDRFILTER_H

#include <stdbool.h>

/* True when a client header may be forwarded to an Anthropic-style upstream. */
bool hdrfilter_claude(const char *name);
/* True when a client header may be forwarded to an OpenAI-style upstream:
 * accept, user-agent, openai-beta, Codex's originator / version / session
 * and thread ids / x-codex-*, x-client-request-id, idempotency-key and the
 * SDK's x-stainless-*. Never the client's credentials, nor its
 * openai-organization / openai-project (the account's, not the client's). */
bool hdrfilter_openai(const char *name);
/* True for hop-by-hop headers (RFC 9110 7.6.1 plus the usual proxies' list). */
bool hdrfilter_hop_by_hop(const char *name);

/* True when name appears in a comma-separated token list such as the
 * Connection header's (those headers are hop-by-hop too). */
bool hdrfilter_in_token_list(const char *list, const char *name);

#endif
