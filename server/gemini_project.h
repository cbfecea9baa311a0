/*
 * gemini_project.h - the Code Assist project of a gemini (Google OAuth)
 * account that has none: after the code exchange (and each refresh while
 * it still has none), the relay asks loadCodeAssist itself with the
 * account's token and keeps the answer's cloudaicompanionProject as the
 * account's tempProjectId - so its first content call does not pass the
 * client's own project (gemini_oauth.c, the project rule).
 */
#ifndef RELAY_GEMINI_PROJECT_H
#define RELAY_GEMINI_PROJECT_H

struct app;
struct cJSON;

/* After rec (a gemini record, tokens sealed) was saved by the code exchange
 * or a refresh: when it has neither projectId nor tempProjectId, start the
 * loadCodeAssist side call (fire and forget: on httpc, answered on a
 * worker, one record patch when it names a project). Any thread. */
void gemini_project_start(struct app *app, const struct cJSON *rec);

#endif
