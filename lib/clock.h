/*
 * clock.h - milliseconds from the two clocks the relay reads.
 *
 * Monotonic for timeouts, deadlines and durations (never jumps); wall time
 * for what is stored or shown (timestamps, window resets shared through Redis).
 */
#ifndef RELAY_CLOCK_H
#define RELAY_CLOCK_H

long long clock_mono_ms(void);
long long clock_wall_ms(void);

#endif
