/* eshm-send - copy standard input into a channel of a shared-memory segment. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_LINES = CLI_OPT_NEXT,
	OPT_RAW,
	OPT_WAIT,
};

static const struct option longopts[] = {
	{"null", no_argument, NULL, '0'},
	{"lines", no_argument, NULL, OPT_LINES},
	{"raw", no_argument, NULL, OPT_RAW},
	CLI_SEGMENT_LONGOPTS,
	{"wait", no_argument, NULL, OPT_WAIT},
	{"timeout", required_argument, NULL, 't'},
	{"progress", no_argument, NULL, 'p'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void
usage(void)
{
	printf("Usage: %s [options] NAME\n"
	       "Send standard input into shared-memory segment NAME (channel m2s,\n"
	       "or s2m with --role slave); the segment is created if needed.\n"
	       "\n"
	       "Framing (recorded in the channel for eshm-recv):\n"
	       "      --lines            each line is a message (default)\n"
	       "  -0, --null             each NUL-terminated record is a message\n"
	       "      --raw              a byte stream; chunk boundaries are not kept\n"
	       "\n"
	       "Segment:\n"
	       "  -c, --capacity SIZE    bytes per channel when creating (default 1M)\n"
	       "      --mode OCTAL       permissions when creating, and the widest\n"
	       "                         accepted when attaching (default 0600)\n"
	       "      --keep             never remove the segment automatically\n"
	       "      --no-create        wait for the segment instead of creating it\n"
	       "      --retries N        tries of --no-create, 100 ms apart (default 50)\n"
	       "      --role ROLE        master (default: write m2s) or slave (write s2m)\n"
	       "      --takeover         take the writer end from a stale holder\n"
	       "      --heartbeat DURATION  heartbeat period (default 1ms)\n"
	       "      --stale DURATION   heartbeat age reported as stale (default 100ms)\n"
	       "\n"
	       "Behaviour:\n"
	       "  -t, --timeout DURATION give up when the channel stays full that long\n"
	       "                         (with --wait, also the longest wait at the end)\n"
	       "      --wait             at the end, wait until the reader took everything\n"
	       "  -p, --progress         show bytes, messages and rate on stderr\n"
	       "  -v, --verbose          say what happens on stderr\n"
	       "  -h, --help             show this help and exit\n"
	       "  -V, --version          show the version and exit\n"
	       "\n"
	       "Sizes take K, M, G (powers of 1024); durations take ms, s, m, h (bare: s).\n"
	       "Exit status: 0 all sent, 1 failure, 2 usage error, 124 --timeout expired,\n"
	       "128+N ended by signal N.\n",
	       cli_prog);
}

struct opts {
	struct eshm_config cfg;
	int delim; /* '\n', '\0', or -1 for raw */
	int timeout_ms;
	bool wait, progress, verbose;
};

static void
parse(int argc, char **argv, struct opts *o)
{
	int c;
	eshm_config_init(&o->cfg);
	o->cfg.role = ESHM_ROLE_MASTER;
	o->cfg.ends = ESHM_END_WRITE;
	o->cfg.framing = ESHM_FRAMING_LINE;
	o->delim = '\n';
	o->timeout_ms = -1;
	while ((c = getopt_long(argc, argv, "0c:t:pvhV", longopts, NULL)) != -1) {
		switch (c) {
		case '0':
			o->delim = '\0';
			o->cfg.framing = ESHM_FRAMING_NULL;
			break;
		case OPT_LINES:
			o->delim = '\n';
			o->cfg.framing = ESHM_FRAMING_LINE;
			break;
		case OPT_RAW:
			o->delim = -1;
			o->cfg.framing = ESHM_FRAMING_RAW;
			break;
		case OPT_WAIT:
			o->wait = true;
			break;
		case 't':
			o->timeout_ms = cli_duration_ms_arg("--timeout", optarg);
			break;
		case 'p':
			o->progress = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		default:
			if (!cli_segment_option(c, optarg, &o->cfg))
				cli_other_option(c, usage);
		}
	}
	cli_one_name(argc, argv, &o->cfg);
}

/* Ends the program for a library failure while sending. */
static _Noreturn void
fail(eshm_t *h, int r, struct cli_progress *pg)
{
	cli_progress_done(pg);
	if (r == ESHM_ETIMEDOUT) {
		cli_warn("%s", eshm_errmsg(h));
		eshm_close(h);
		exit(EX_TIMEOUT);
	}
	if (r == ESHM_EMSGSIZE)
		cli_warn("%s; recreate the segment with a larger -c/--capacity", eshm_errmsg(h));
	else
		cli_warn("%s", eshm_errmsg(h)[0] ? eshm_errmsg(h) : eshm_strerror(r));
	eshm_close(h);
	exit(EX_FAIL);
}

/*
 * Reads go straight into the ring and are published as soon as read()
 * returns, so `tail -f log | eshm-send q` is live. An unfinished line stays
 * at the start of the next reservation (eshm_commit_lines carries it).
 *
 * One thread reads. The kernel's copy out of the page cache is 76% of our
 * time on a 1 GiB file (perf), so two threads preading halves of each
 * reservation were tried: on 2 cores it was slower (0.14-0.16 s against
 * 0.12 s), as the receiver's spin then loses its core and sleeps (6,500
 * context switches instead of 120), and every wake costs ~45 us there.
 */
static void
pump(eshm_t *h, const struct opts *o, struct cli_progress *pg)
{
	size_t carry = 0;
	/* large reads for files, but a quarter of the ring so that the
	 * reader can start on one part while we fill the next */
	size_t chunk = eshm_capacity(h) / 4;
	if (chunk < 65536)
		chunk = 65536;
	for (;;) {
		void *p;
		size_t avail;
		int r = eshm_reserve(h, carry + 1, &p, &avail, o->timeout_ms);
		if (r == -EINTR && cli_signal)
			break;
		if (r)
			fail(h, r, pg);
		size_t want = avail - carry;
		if (want > chunk)
			want = chunk;
		ssize_t n = read(STDIN_FILENO, (char *)p + carry, want);
		if (n < 0) {
			if (errno == EINTR) {
				if (cli_signal)
					break;
				continue;
			}
			/* the kernel could not write into the ring: truncated? */
			if (errno == EFAULT && eshm_check(h))
				fail(h, ESHM_ECORRUPT, pg);
			cli_progress_done(pg);
			cli_warn("cannot read standard input: %s", strerror(errno));
			eshm_close(h);
			exit(EX_FAIL);
		}
		if (n == 0)
			break;
		ssize_t m;
		if (o->delim < 0) {
			m = eshm_commit(h, (size_t)n);
			m = m ? m : 1;
		} else {
			m = eshm_commit_lines(h, carry + (size_t)n, o->delim, &carry);
		}
		if (m < 0)
			fail(h, (int)m, pg);
		cli_progress_add(pg, (uint64_t)n, (uint64_t)m);
		if (cli_signal)
			break;
	}
	/* The last line may lack its terminator; it is still a message. Its
	 * room was reserved before the read, so this does not wait. */
	if (carry) {
		void *p;
		size_t avail;
		int r = eshm_reserve(h, carry + 1, &p, &avail, 0);
		ssize_t m = r;
		if (r == 0) {
			((char *)p)[carry] = (char)o->delim;
			m = eshm_commit_delimited(h, carry + 1, o->delim);
		}
		if (m < 0) {
			cli_warn("%zu bytes of an unfinished last line were not sent: %s", carry,
				 eshm_errmsg(h));
			if (!cli_signal)
				fail(h, (int)m, pg);
		} else {
			cli_progress_add(pg, 0, 1);
		}
	}
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	struct eshm_error err;
	struct cli_progress pg;
	eshm_t *h;

	cli_init("eshm-send");
	parse(argc, argv, &o);
	cli_segment = argv[optind];
	cli_signals();
	o.cfg.interrupt = &cli_signal;

	int r = eshm_open(cli_segment, &o.cfg, &h, &err);
	if (r) {
		if (r == -EINTR && cli_signal)
			cli_reraise(cli_signal);
		cli_die(EX_FAIL, "%s", cli_err_text(&err, r));
	}
	if (o.verbose)
		cli_warn("%s segment, writing channel %s (%zu bytes, messages up to %zu)",
			 eshm_created(h) ? "created" : "attached to",
			 eshm_role(h) == ESHM_ROLE_MASTER ? "m2s" : "s2m", eshm_capacity(h),
			 eshm_max_message(h));

	cli_progress_init(&pg, o.progress);
	pump(h, &o, &pg);
	/* mark end of stream now, so that --wait also waits for the mark */
	if ((r = eshm_eos(h)))
		fail(h, r, &pg);
	if (o.wait && !cli_signal) {
		r = eshm_flush(h, o.timeout_ms);
		if (r && !(r == -EINTR && cli_signal))
			fail(h, r, &pg);
	}
	cli_progress_done(&pg);
	if (o.verbose)
		cli_warn("sent %llu bytes in %llu messages%s", (unsigned long long)pg.bytes,
			 (unsigned long long)pg.msgs, cli_signal ? " before a signal" : "");
	eshm_close(h);
	cli_reraise(cli_signal);
	return EX_OK;
}
