/* SPDX-License-Identifier: MIT */
/* Deadlines and durations on CLOCK_MONOTONIC, which no change of the wall clock moves. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The time MS milliseconds from now: a deadline for pthread_cond_timedwait on a condition made
 * for CLOCK_MONOTONIC, or a due time to compare with clock_before. */
struct timespec clock_in_ms(unsigned ms);
/* true when A is earlier than B. */
bool clock_before(const struct timespec *a, const struct timespec *b);
/* Now, in milliseconds. */
int64_t clock_ms(void);

#endif
