/* t.h - a tiny harness for the library's C tests: checks, unique names, cleanup. */
#ifndef T_H
#define T_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eshm.h"

static int t_failed;
static const char *t_current;
static char t_names[64][64];
static int t_nnames;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,       \
				t_current, #cond);                                                 \
			t_failed++;                                                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_) {                                                                    \
			fprintf(stderr, "%s:%d: %s: %s == %lld, expected %s == %lld\n", __FILE__,  \
				__LINE__, t_current, #a, a_, #b, b_);                              \
			t_failed++;                                                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* A segment name unique to this process and test; removed at the end. */
static __attribute__((unused)) const char *
t_name(void)
{
	if (t_nnames == 64)
		abort();
	char *n = t_names[t_nnames++];
	snprintf(n, 64, "t-%d-%d", (int)getpid(), t_nnames);
	return n;
}

static void
t_cleanup(void)
{
	for (int i = 0; i < t_nnames; i++) {
		char path[256];
		snprintf(path, sizeof path, "/dev/shm/eshm_%.63s", t_names[i]);
		unlink(path);
	}
}

static __attribute__((unused)) int
t_exists(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "/dev/shm/eshm_%.200s", name);
	return access(path, F_OK) == 0;
}

/* A config with the defaults but role and ends. */
static __attribute__((unused)) struct eshm_config
t_cfg(int role, unsigned ends)
{
	struct eshm_config c;
	eshm_config_init(&c);
	c.role = role;
	c.ends = ends;
	return c;
}

static __attribute__((unused)) void
t_nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Open or fail the test. */
#define OPEN(h, name, cfg)                                                                         \
	do {                                                                                       \
		struct eshm_error e_;                                                              \
		int r_ = eshm_open((name), (cfg), &(h), &e_);                                      \
		if (r_) {                                                                          \
			fprintf(stderr, "%s:%d: %s: open %s: %s\n", __FILE__, __LINE__, t_current, \
				(name), e_.what);                                                  \
			t_failed++;                                                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

struct t_case {
	const char *name;
	void (*fn)(void);
};

static int
t_run(const struct t_case *cases, int argc, char **argv)
{
	int n = 0;
	for (const struct t_case *c = cases; c->name; c++) {
		if (argc > 1 && !strstr(c->name, argv[1]))
			continue;
		t_current = c->name;
		int before = t_failed;
		c->fn();
		printf("%s %s\n", t_failed == before ? "ok  " : "FAIL", c->name);
		n++;
	}
	t_cleanup();
	printf("%d tests, %d failed\n", n, t_failed);
	return t_failed ? 1 : 0;
}

#endif
