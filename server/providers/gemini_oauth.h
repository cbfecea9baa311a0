/*
 * gemini_oauth.h - what the gemini (Google OAuth, Code Assist) provider
 * shares besides its table (provider_gemini_oauth, provider.h).
 */
#ifndef RELAY_GEMINI_OAUTH_H
#define RELAY_GEMINI_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

/* The Code Assist project a loadCodeAssist answer (cloudaicompanionProject)
 * or a finished onboardUser operation (response.cloudaicompanionProject.id)
 * names, into value, if it is spelt as Google's project ids are. Pure. */
bool gemini_answered_project(const char *body, size_t len, char *value, size_t vlen);

#endif
