/*
 * maintenance.h - the maintenance thread: a table of periodic jobs
 * {name, interval, fn}. It stops within one second (timed wait on a
 * condition variable, never a sleep).
 */
#ifndef RELAY_MAINTENANCE_H
#define RELAY_MAINTENANCE_H

struct app;
struct maint;

int maint_start(struct app *app, struct maint **out) __attribute__((warn_unused_result));
void maint_stop(struct maint *m);

#endif
