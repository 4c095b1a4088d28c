/* runner.h - eshm-recv --exec: the work runner. */
#ifndef RUNNER_H
#define RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "peers.h"

struct runner_opts {
	const char *cmd;   /* run as sh -c CMD, the message on its stdin */
	unsigned jobs;     /* at most this many at once (and taken, unreleased) */
	unsigned attempts; /* tries of a message before it goes to NAME.failed */
	uint64_t count;    /* stop after this many messages (0: no limit) */
	int timeout_ms;    /* give up after this long with no message and no job */
	unsigned mode;     /* of NAME.failed when it is created */
	int group;         /* its group, as --shm-group (-1: the creator's) */
	bool follow, progress, verbose;
	struct peers *peers; /* -v: told of the channel's other holders */
};

/* Run jobs for the messages h reads (h's config must set interrupt to
 * &cli_wake, and cli_catch_children must have been called) until the end
 * of stream (*eos set), the count, the timeout or a signal. Returns the
 * exit status: 0 every message succeeded, 1 one went to NAME.failed (or a
 * failure, said), 124 the timeout. */
int runner_run(eshm_t *h, const struct runner_opts *o, bool *eos);

#endif
