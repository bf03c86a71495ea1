/* SPDX-License-Identifier: MIT */
/*
 * A minimal unit-test harness: each test file defines its tests with UNIT_TEST and lists them in
 * UNIT_MAIN. Every CHECK counts; the binary prints "ok"/"not ok" per test (TAP-like) and exits
 * non-zero when any failed. test/unit/run adds up the binaries' results.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failed_checks;
static const char *unit_skip_reason;

/* Ends the current test as skipped (TAP "# SKIP"): for checks this machine cannot make, such as
 * the kernel's WireGuard on a host without it. The runner counts skips apart from passes. */
#define UNIT_SKIP_IF(cond, why)                   \
	do {                                      \
		if (cond) {                       \
			unit_skip_reason = (why); \
			return;                   \
		}                                 \
	} while (0)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                      \
	do {                                                                                    \
		long long _a = (long long)(a), _b = (long long)(b);                             \
		if (_a != _b) {                                                                 \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
				__LINE__, #a, _a, #b, _b);                                      \
			unit_failed_checks++;                                                   \
		}                                                                               \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                        \
	do {                                                                                   \
		const char *_h = (hay);                                                        \
		if (!_h || !strstr(_h, (needle))) {                                            \
			fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, \
				__LINE__, _h ? _h : "(null)", (needle));                       \
			unit_failed_checks++;                                                  \
		}                                                                              \
	} while (0)

#define UNIT_TEST(name) static void name(void)

struct unit_case {
	const char *name;
	void (*fn)(void);
};

#define UNIT_CASE(fn)   \
	{               \
#fn, fn \
	}

static inline int unit_run(const char *suite, const struct unit_case *cases, size_t n)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		int before = unit_failed_checks;

		unit_skip_reason = NULL;
		cases[i].fn();
		if (unit_failed_checks == before && unit_skip_reason) {
			printf("ok %zu %s: %s # SKIP %s\n", i + 1, suite, cases[i].name,
			       unit_skip_reason);
		} else if (unit_failed_checks == before) {
			printf("ok %zu %s: %s\n", i + 1, suite, cases[i].name);
			passed++;
		} else {
			printf("not ok %zu %s: %s\n", i + 1, suite, cases[i].name);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#define UNIT_MAIN(suite, ...)                                                    \
	int main(void)                                                           \
	{                                                                        \
		static const struct unit_case cases[] = { __VA_ARGS__ };         \
		return unit_run(suite, cases, sizeof(cases) / sizeof(cases[0])); \
	}

#endif
