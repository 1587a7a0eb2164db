/*
 * lp_assert(): an invariant that must hold where it is written (PostgreSQL's
 * Assert, HAProxy's BUG_ON). Checked in debug and sanitizer builds, where a
 * broken one aborts with file and line; compiled out elsewhere (the
 * expression is still type-checked, never evaluated).
 */
#ifndef LP_CORE_ASSERT_H
#define LP_CORE_ASSERT_H

#ifdef LP_ASSERTS
#include <stdio.h>
#include <stdlib.h>
#define lp_assert(cond)                                                                        \
	do {                                                                                   \
		if (__builtin_expect(!(cond), 0)) {                                            \
			fprintf(stderr, "PANIC: assertion failed: %s at %s:%d (%s)\n", #cond,  \
				__FILE__, __LINE__, __func__);                                 \
			abort();                                                               \
		}                                                                              \
	} while (0)
#else
#define lp_assert(cond) ((void)sizeof(!(cond)))
#endif

#endif
