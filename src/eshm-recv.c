/* eshm-recv - copy messages from a channel of a shared-memory segment to standard output. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "peers.h"
#include "runner.h"

enum {
	OPT_LINES = CLI_OPT_NEXT,
	OPT_RAW,
	OPT_GROUP,
	OPT_EXEC,
	OPT_ATTEMPTS,
	OPT_TAP,
	OPT_PEEK,
	OPT_TIMESTAMPS,
};

static const struct option longopts[] = {
	{"lines", no_argument, NULL, OPT_LINES},
	{"null", no_argument, NULL, '0'},
	{"raw", no_argument, NULL, OPT_RAW},
	{"count", required_argument, NULL, 'n'},
	{"timeout", required_argument, NULL, 't'},
	{"follow", no_argument, NULL, 'f'},
	{"unbuffered", no_argument, NULL, 'u'},
	{"group", required_argument, NULL, OPT_GROUP},
	{"tap", no_argument, NULL, OPT_TAP},
	{"peek", no_argument, NULL, OPT_PEEK},
	{"timestamps", no_argument, NULL, OPT_TIMESTAMPS},
	{"exec", required_argument, NULL, OPT_EXEC},
	{"jobs", required_argument, NULL, 'j'},
	{"attempts", required_argument, NULL, OPT_ATTEMPTS},
	CLI_SEGMENT_LONGOPTS,
	{"progress", no_argument, NULL, 'p'},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void
usage(void)
{
	printf("Usage: %s [options] NAME\n"
	       "Write the messages of shared-memory segment NAME (channel m2s, or s2m\n"
	       "with --role master) to standard output; the segment is created if\n"
	       "needed. Ends at end of stream: when everything queued is written, no\n"
	       "writer is attached, and none died attached since the channel last had\n"
	       "none (else: writer lost, exit 1).\n"
	       "\n"
	       "Output (default: as the writer framed it; a newline after each\n"
	       "library message):\n"
	       "      --lines            a newline after each message\n"
	       "  -0, --null             a NUL after each message\n"
	       "      --raw              nothing between messages\n"
	       "      --timestamps       each message with its arrival time, as a\n"
	       "                         recording for eshm-send --replay (see\n"
	       "                         eshm-recv(1), RECORDINGS)\n"
	       "\n"
	       "Reading:\n"
	       "  -n, --count N          exit after N messages, leaving the rest\n"
	       "  -t, --timeout DURATION exit 124 when nothing arrives for that long\n"
	       "  -f, --follow           go on across end-of-stream marks and writers\n"
	       "  -u, --unbuffered       write and release one message at a time\n"
	       "      --group NAME       read in consumer group NAME (default: -, the\n"
	       "                         unnamed group): readers of a group share the\n"
	       "                         messages, every group gets all of them\n"
	       "\n"
	       "Looking without taking:\n"
	       "      --tap              print messages as they pass, from now on, in no\n"
	       "                         group: never holds space or slows a writer;\n"
	       "                         falling behind, skips and counts what it missed\n"
	       "      --peek             print the messages still pending (for --group,\n"
	       "                         or the oldest held for any group) and exit,\n"
	       "                         leaving them all; opens the segment read-only\n"
	       "\n"
	       "Work runner:\n"
	       "      --exec CMD         run sh -c CMD for each message, the message on\n"
	       "                         its stdin; release it when CMD exits 0\n"
	       "  -j, --jobs N           run up to N commands at once (default 1)\n"
	       "      --attempts K       tries of a failing message (default 3); then\n"
	       "                         it goes to segment NAME.failed\n"
	       "\n"
	       "Segment:\n"
	       "  -c, --capacity SIZE    bytes per channel when creating (default 1M)\n"
	       "      --mode OCTAL       permissions when creating, and the widest\n"
	       "                         accepted when attaching (default 0600, or 0660\n"
	       "                         with --shm-group)\n"
	       "      --shm-group GROUP  group (name or number) when creating, and the\n"
	       "                         one required when attaching\n"
	       "      --keep             never remove the segment automatically\n"
	       "      --no-create        wait for the segment instead of creating it\n"
	       "      --retries N        tries of --no-create, and 100 ms waits for a new\n"
	       "                         writer after one died (default 50)\n"
	       "      --role ROLE        slave (default: read m2s) or master (read s2m)\n"
	       "      --exclusive        be the channel's only reader: refused while\n"
	       "                         another is attached, and refuse others\n"
	       "      --takeover         take the reader end from a stale holder\n"
	       "      --heartbeat DURATION  heartbeat period (default 1ms)\n"
	       "      --stale DURATION   heartbeat age reported as stale (default 100ms)\n"
	       "\n"
	       "  -p, --progress         show bytes, messages and rate on stderr\n"
	       "  -v, --verbose          say what happens on stderr, and when writers\n"
	       "                         (and readers of the group) come, go, die or\n"
	       "                         stall, a line each\n"
	       "  -q, --quiet            no warnings on stderr, only errors\n"
	       "  -h, --help             show this help and exit\n"
	       "  -V, --version          show the version and exit\n"
	       "\n"
	       "Sizes take K, M, G (powers of 1024); durations take ms, s, m, h (bare: s).\n"
	       "Exit status: 0 end of stream or --count reached, 1 failure (e.g. writer\n"
	       "lost, or with --exec a message moved to NAME.failed), 2 usage error,\n"
	       "124 --timeout expired, 128+N ended by signal N.\n",
	       cli_prog);
}

enum outmode { OUT_NATIVE, OUT_LINES, OUT_NULL, OUT_RAW, OUT_STAMPED };

struct opts {
	struct eshm_config cfg;
	enum outmode out;
	uint64_t count;
	int timeout_ms;
	bool follow, unbuffered, progress, verbose, out_given, tap, peek;
	struct runner_opts run; /* run.cmd set: --exec */
};

static void
parse(int argc, char **argv, struct opts *o)
{
	int c;
	eshm_config_init(&o->cfg);
	o->cfg.role = ESHM_ROLE_SLAVE;
	o->cfg.ends = ESHM_END_READ;
	o->timeout_ms = -1;
	o->run.jobs = 1;
	o->run.attempts = 3;
	bool stamped = false;
	while ((c = getopt_long(argc, argv, "0n:t:fuj:c:pvqhV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LINES:
			o->out = OUT_LINES;
			o->out_given = true;
			break;
		case '0':
			o->out = OUT_NULL;
			o->out_given = true;
			break;
		case OPT_RAW:
			o->out = OUT_RAW;
			o->out_given = true;
			break;
		case OPT_TIMESTAMPS:
			stamped = true;
			break;
		case OPT_GROUP:
			o->cfg.consumer_group = optarg;
			break;
		case OPT_EXEC:
			o->run.cmd = optarg;
			break;
		case OPT_TAP:
			o->tap = true;
			o->cfg.flags |= ESHM_TAP;
			break;
		case OPT_PEEK:
			o->peek = true;
			o->cfg.flags |= ESHM_PEEK | ESHM_NO_CREATE;
			break;
		case 'j':
			o->run.jobs = (unsigned)cli_count_arg("--jobs", optarg, 1024);
			if (!o->run.jobs)
				cli_usage_error("--jobs must be at least 1");
			break;
		case OPT_ATTEMPTS:
			o->run.attempts = (unsigned)cli_count_arg("--attempts", optarg, 1000);
			if (!o->run.attempts)
				cli_usage_error("--attempts must be at least 1");
			break;
		case 'n':
			o->count = cli_count_arg("--count", optarg, UINT64_MAX);
			if (o->count == 0)
				cli_usage_error("--count must be at least 1");
			break;
		case 't':
			o->timeout_ms = cli_duration_ms_arg("--timeout", optarg);
			break;
		case 'f':
			o->follow = true;
			break;
		case 'u':
			o->unbuffered = true;
			break;
		case 'p':
			o->progress = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'q':
			cli_quiet = true;
			break;
		default:
			if (!cli_segment_option(c, optarg, &o->cfg))
				cli_other_option(c, usage);
		}
	}
	if (o->verbose && cli_quiet)
		cli_usage_error("--verbose and --quiet: one or the other");
	if (stamped) {
		if (o->out_given)
			cli_usage_error(
				"--timestamps writes a recording: no --lines, --null or --raw");
		o->out = OUT_STAMPED;
		o->out_given = true;
	}
	if (o->cfg.consumer_group && !eshm_group_name_ok(o->cfg.consumer_group))
		cli_usage_error("invalid --group '%s': - or 1 to %d letters, digits, '.', '_', "
				"'-', '@', ':' not starting with '-' or '.'",
				o->cfg.consumer_group, ESHM_GROUP_NAME_MAX);
	cli_one_name(argc, argv, &o->cfg);
	if (o->tap && o->peek)
		cli_usage_error("--tap and --peek: one or the other");
	if ((o->tap || o->peek) &&
	    (o->run.cmd || (o->cfg.flags & (ESHM_EXCLUSIVE | ESHM_TAKEOVER))))
		cli_usage_error("--%s looks without taking: no --exec, --exclusive or --takeover",
				o->tap ? "tap" : "peek");
	if (o->tap && o->cfg.consumer_group)
		cli_usage_error("--tap reads in no consumer group: no --group");
	if (o->peek && o->follow)
		cli_usage_error("--peek shows what is pending now: no --follow");
	if (o->run.cmd) {
		if (o->out_given || o->unbuffered)
			cli_usage_error("--exec hands each message to its command: no --lines, "
					"--null, --raw, --timestamps or --unbuffered");
		if (strlen(argv[optind]) + strlen(".failed") > ESHM_NAME_MAX)
			cli_usage_error("with --exec, NAME has at most %d characters (NAME.failed "
					"must be a segment name)",
					ESHM_NAME_MAX - (int)strlen(".failed"));
		/* take no more jobs than we run: the others of the group
		 * run the rest meanwhile */
		o->cfg.batch_msgs = o->run.jobs;
		o->run.count = o->count;
		o->run.timeout_ms = o->timeout_ms;
		o->run.mode = o->cfg.mode;
		o->run.group = o->cfg.group;
		o->run.follow = o->follow;
		o->run.progress = o->progress;
		o->run.verbose = o->verbose;
	} else if (o->run.jobs != 1 || o->run.attempts != 3) {
		cli_usage_error("--jobs and --attempts go with --exec");
	}
	/* waiting for a new writer forever is what --follow means */
	if (o->follow)
		o->cfg.max_retries = -1;
}

/*
 * A batch of chunks peeked from the ring, written with one writev and then
 * released. Output bytes come straight from the ring where the output is
 * the payload itself (the common case: lines out as lines in), else from a
 * staging buffer. Each entry remembers how its output maps to payload, so
 * that after a failed write exactly the messages written are released.
 */
#define BATCH_IOV 1024
#define BATCH_BYTES (4u << 20)
#define STAGE_BYTES (256u << 10)

enum map { MAP_SAME, MAP_MSG, MAP_RAWMSG, MAP_NONE };

struct entry {
	size_t out, payload;
	const unsigned char *data; /* payload, for MAP_SAME partial writes */
	int delim;
	enum map map;
};

struct batch {
	struct iovec iov[BATCH_IOV];
	struct entry ent[BATCH_IOV];
	int niov, nent;
	size_t out, payload;
	uint64_t msgs;
	unsigned char *stage; /* grows only while the batch is empty */
	size_t staged, stage_cap;
	int stamped_framing; /* --timestamps: the framing last named, or -1 */
};

static unsigned char nl = '\n', nul = '\0';

static void
add_iov(struct batch *b, const void *p, size_t len)
{
	if (!len)
		return;
	/* extend the previous piece when contiguous (e.g. staged bytes) */
	if (b->niov &&
	    (const char *)b->iov[b->niov - 1].iov_base + b->iov[b->niov - 1].iov_len == p) {
		b->iov[b->niov - 1].iov_len += len;
		return;
	}
	b->iov[b->niov].iov_base = (void *)p;
	b->iov[b->niov].iov_len = len;
	b->niov++;
}

static int
out_delim(const struct eshm_chunk *ck, enum outmode m)
{
	switch (m) {
	case OUT_STAMPED:
		return -1;
	case OUT_LINES:
		return '\n';
	case OUT_NULL:
		return '\0';
	case OUT_RAW:
		return -1;
	case OUT_NATIVE:
		break;
	}
	return ck->delim >= 0 ? ck->delim : eshm_framing_delim(ck->framing);
}

/* Room left for a chunk needing `stage` staged bytes and 2 iovecs. */
static bool
batch_fits(struct batch *b, size_t stage)
{
	if (b->nent == 0 && stage > b->stage_cap) {
		/* one chunk larger than the staging buffer: grow it (nothing
		 * points into it while the batch is empty) */
		unsigned char *ns = realloc(b->stage, stage);
		if (!ns)
			cli_die(EX_FAIL, "out of memory");
		b->stage = ns;
		b->stage_cap = stage;
	}
	return b->niov + 3 <= BATCH_IOV && b->nent < BATCH_IOV &&
	       b->staged + stage <= b->stage_cap && b->out < BATCH_BYTES;
}

/*
 * One message as a recording has it (eshm-recv(1), RECORDINGS): a line
 * "SECONDS.NANOSECONDS LENGTH", the message without its delimiter, a
 * newline; before the first message, and whenever the framing changes, a
 * line "eshm-rec 1 FRAMING".
 */
static bool
batch_add_stamped(struct batch *b, const struct eshm_chunk *ck)
{
	struct entry *e = &b->ent[b->nent];
	size_t len = ck->delim >= 0 && ck->len ? ck->len - 1 : ck->len;
	char head[96];
	int hl = 0;
	if (ck->framing != b->stamped_framing) {
		const char *fn = eshm_framing_name(ck->framing);
		hl = snprintf(head, sizeof head, "eshm-rec 1 %s\n", fn ? fn : "message");
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	hl += snprintf(head + hl, sizeof head - (size_t)hl, "%lld.%09ld %zu\n",
		       (long long)ts.tv_sec, ts.tv_nsec, len);
	if (!batch_fits(b, (size_t)hl))
		return false;
	b->stamped_framing = ck->framing;
	unsigned char *s = b->stage + b->staged;
	memcpy(s, head, (size_t)hl);
	b->staged += (size_t)hl;
	add_iov(b, s, (size_t)hl);
	add_iov(b, ck->data, len);
	add_iov(b, &nl, 1);
	e->payload = ck->len;
	e->data = ck->data;
	e->delim = ck->delim;
	e->map = MAP_MSG;
	e->out = (size_t)hl + len + 1;
	b->nent++;
	b->out += e->out;
	b->payload += ck->len;
	b->msgs += ck->nmsgs;
	return true;
}

/* Add a chunk; false if it does not fit (the batch must be written first). */
static bool
batch_add(struct batch *b, const struct eshm_chunk *ck, enum outmode m)
{
	if (m == OUT_STAMPED)
		return batch_add_stamped(b, ck);
	int od = out_delim(ck, m);
	struct entry *e = &b->ent[b->nent];
	e->payload = ck->len;
	e->data = ck->data;
	e->delim = ck->delim;
	if (ck->delim >= 0) {
		if (od == ck->delim) {
			if (!batch_fits(b, 0))
				return false;
			add_iov(b, ck->data, ck->len);
			e->map = MAP_SAME;
			e->out = ck->len;
		} else if (od >= 0) {
			/* other delimiter: same length, translated */
			if (!batch_fits(b, ck->len))
				return false;
			unsigned char *s = b->stage + b->staged;
			memcpy(s, ck->data, ck->len);
			for (unsigned char *q = s;
			     (q = memchr(q, ck->delim, ck->len - (size_t)(q - s)));)
				*q++ = (unsigned char)od;
			b->staged += ck->len;
			add_iov(b, s, ck->len);
			e->map = MAP_SAME;
			e->out = ck->len;
		} else {
			/* raw output: the delimiters go */
			if (!batch_fits(b, ck->len))
				return false;
			unsigned char *s = b->stage + b->staged;
			const unsigned char *d = ck->data;
			size_t n = 0;
			for (size_t i = 0; i < ck->len; i++)
				if (d[i] != ck->delim)
					s[n++] = d[i];
			b->staged += n;
			add_iov(b, s, n);
			e->map = MAP_NONE;
			e->out = n;
		}
	} else {
		if (!batch_fits(b, 0))
			return false;
		add_iov(b, ck->data, ck->len);
		e->out = ck->len;
		if (od >= 0) {
			add_iov(b, od ? &nl : &nul, 1);
			e->out++;
			e->map = MAP_MSG;
		} else {
			e->map = ck->framing == ESHM_FRAMING_RAW ? MAP_RAWMSG : MAP_MSG;
		}
	}
	b->nent++;
	b->out += e->out;
	b->payload += ck->len;
	b->msgs += ck->nmsgs;
	return true;
}

/* Payload bytes whose output lies wholly within the first `written` bytes,
 * ending on a message boundary (or anywhere, for a raw stream). */
static size_t
released_by(const struct batch *b, size_t written)
{
	size_t rel = 0;
	for (int i = 0; i < b->nent; i++) {
		const struct entry *e = &b->ent[i];
		if (written >= e->out) {
			written -= e->out;
			rel += e->payload;
			continue;
		}
		if (e->map == MAP_SAME && written) {
			const unsigned char *q = memrchr(e->data, e->delim, written);
			if (q)
				rel += (size_t)(q - e->data) + 1;
		} else if (e->map == MAP_RAWMSG) {
			rel += written;
		}
		break;
	}
	return rel;
}

struct run {
	eshm_t *h;
	const struct opts *o;
	struct batch *b;
	struct cli_progress pg;
	uint64_t got;
	struct peers *peers; /* -v */
};

/* Detach and exit. What detaching finds is reported, unless it is what
 * was just said: messages left in a segment removed under us (a failure),
 * or a drained segment left behind because /dev/shm is sticky (a
 * warning). */
/* A tap's or peek's misses, if any (or always): one line on stderr. */
static void
say_missed(struct run *rn, bool always)
{
	uint64_t msgs = 0, bytes = 0;
	if ((!rn->o->tap && !rn->o->peek) || eshm_tap_missed(rn->h, &msgs, &bytes))
		return;
	const char *who = rn->o->tap ? "tap" : "peek";
	if (bytes)
		cli_note("%s missed about %llu messages (%llu bytes): it fell behind and "
			 "skipped to the release point",
			 who, (unsigned long long)msgs, (unsigned long long)bytes);
	else if (always)
		cli_log("%s missed nothing", who);
}

static _Noreturn void
finish(struct run *rn, int status, int sig)
{
	struct eshm_error err;
	char said[256];
	snprintf(said, sizeof said, "%s", eshm_errmsg(rn->h));
	cli_progress_done(&rn->pg);
	if (rn->o->verbose)
		cli_log("received %llu messages", (unsigned long long)rn->got);
	say_missed(rn, rn->o->verbose);
	int r = eshm_detach(rn->h, 0, &err);
	if (r == -EPERM)
		cli_note("%s", cli_err_text(&err, r));
	else if (r && (status == EX_OK || strcmp(said, cli_err_text(&err, r))))
		cli_warn("%s", cli_err_text(&err, r));
	if (r && r != -EPERM && !status)
		status = EX_FAIL;
	if (sig)
		fclose(stdout); /* the signal decides the status */
	else
		status = cli_close_stdout(status);
	cli_reraise(sig);
	exit(status);
}

/* Write the batch, release what was written; on failure end the program. */
static void
flush(struct run *rn)
{
	struct batch *b = rn->b;
	if (!b->nent)
		return;
	int err;
	size_t w = cli_writev_all(STDOUT_FILENO, b->iov, b->niov, &err);
	int r;
	if (!err) {
		r = eshm_consume(rn->h, ESHM_ALL);
		cli_progress_add(&rn->pg, b->payload, b->msgs);
		rn->got += b->msgs;
	} else {
		r = eshm_consume(rn->h, released_by(b, w));
	}
	b->niov = b->nent = 0;
	b->out = b->payload = b->msgs = b->staged = 0;
	if (r)
		cli_warn("%s", eshm_errmsg(rn->h));
	if (err == -EPIPE) {
		/* the reader of our output left: end quietly, as cat does */
		finish(rn, EX_FAIL, SIGPIPE);
	}
	if (err == -EINTR && cli_signal)
		finish(rn, EX_FAIL, cli_signal);
	if (err == -EFAULT && eshm_check(rn->h)) {
		/* the kernel could not read from the ring: it was truncated */
		cli_warn("%s", eshm_errmsg(rn->h));
		finish(rn, EX_FAIL, 0);
	}
	if (err) {
		cli_warn("cannot write standard output: %s", strerror(-err));
		finish(rn, EX_FAIL, 0);
	}
	if (r)
		finish(rn, EX_FAIL, 0);
}

static void
pump(struct run *rn)
{
	const struct opts *o = rn->o;
	struct batch *b = rn->b;
	for (;;) {
		if (cli_signal) {
			flush(rn);
			finish(rn, EX_FAIL, cli_signal);
		}
		size_t max = 0;
		if (o->count)
			max = (size_t)(o->count - rn->got - b->msgs);
		if (o->unbuffered || o->out == OUT_STAMPED)
			max = 1;            /* (a time for each message) */
		struct eshm_chunk ck = {0}; /* (filled when 0 is returned) */
		int r;
		if (b->nent) {
			r = eshm_peek_chunk(rn->h, &ck, max, 0);
		} else {
			/* a wait: in slices with -v, to look at the peers */
			int64_t dl = peers_deadline(o->timeout_ms);
			do
				r = eshm_peek_chunk(rn->h, &ck, max, peers_slice(rn->peers, dl));
			while (peers_again(rn->peers, r, dl));
		}
		if (r == 0) {
			if (!batch_add(b, &ck, o->out)) {
				/* take it back, write what we have, then take it again */
				eshm_unpeek(rn->h);
				flush(rn);
				continue;
			}
			if (o->unbuffered || (o->count && rn->got + b->msgs >= o->count)) {
				flush(rn);
				if (o->count && rn->got >= o->count)
					finish(rn, EX_OK, 0);
			}
			continue;
		}
		bool had = b->nent > 0;
		flush(rn);
		/* nothing more right now, or an end-of-stream mark that is
		 * consumed only once what came before it is released */
		if (had && (r == ESHM_ETIMEDOUT || r == ESHM_EOF))
			continue;
		if (r == ESHM_EOF) {
			if (o->verbose)
				cli_log("end of stream");
			if (o->follow)
				continue;
			finish(rn, EX_OK, 0);
		}
		if (r == -EINTR && cli_signal)
			finish(rn, EX_FAIL, cli_signal);
		if (r == ESHM_ETIMEDOUT) {
			cli_warn("nothing arrived for %d ms", o->timeout_ms);
			finish(rn, EX_TIMEOUT, 0);
		}
		cli_warn("%s", cli_lib_text(rn->h, r));
		finish(rn, EX_FAIL, 0);
	}
}

/*
 * A tap holds no space: what it has not copied when the writers come round
 * the ring again is lost. On two busy cores a tap woken by a commit waited
 * for a CPU for milliseconds, a whole 1 MiB ring of traffic. Since Linux
 * 6.12 a thread may ask for shorter scheduler slices (sched_runtime, at
 * least 100 us): it then runs sooner after a wakeup, not for longer. So
 * the tap asks for 100 us, keeping its policy and nice value. Measured,
 * a writer at half the reader's rate through a 1 MiB ring: the tap missed
 * data in 1 run of 48, against 11 of 48 without. Older kernels ignore it;
 * nothing is said if it cannot be done.
 */
static void
tap_short_slices(void)
{
	int policy = sched_getscheduler(0);
	if (policy != SCHED_OTHER && policy != SCHED_BATCH)
		return;
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	if (nice == -1 && errno)
		return;
	/* struct sched_attr of sched_setattr(2), its first version (48 bytes):
	 * glibc has no wrapper, and <linux/sched/types.h> clashes with
	 * <sched.h> */
	struct {
		uint32_t size, policy;
		uint64_t flags;
		int32_t nice;
		uint32_t priority;
		uint64_t runtime, deadline, period;
	} a = {
		.size = sizeof a,
		.policy = (uint32_t)policy,
		.nice = nice,
		.runtime = 100 * 1000,
	};
	(void)syscall(SYS_sched_setattr, 0, &a, 0);
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	struct run rn = {0};

	cli_init("eshm-recv");
	parse(argc, argv, &o);
	cli_segment = argv[optind];
	cli_need_std(STDOUT_FILENO);
	cli_signals();
	if (o.run.cmd) {
		/* a job that ends interrupts a wait for messages */
		cli_catch_children();
		o.cfg.interrupt = &cli_wake;
	}
	if (o.verbose && !o.peek)
		rn.peers = peers_new(cli_segment, &o.cfg);
	rn.h = cli_open(cli_segment, &o.cfg, -1);
	if (o.tap)
		tap_short_slices();
	if (o.verbose)
		cli_log("%s segment, %s channel %s; writer %s",
			eshm_created(rn.h) ? "created" : "attached to",
			o.tap    ? "tapping"
			: o.peek ? "peeking at"
				 : "reading",
			eshm_role(rn.h) == ESHM_ROLE_MASTER ? "s2m" : "m2s",
			eshm_peer_state_name(eshm_peer_state(rn.h)));
	peers_start(rn.peers, rn.h);
	rn.o = &o;
	o.run.peers = rn.peers;
	if (o.run.cmd) {
		bool eos;
		int st = runner_run(rn.h, &o.run, &eos);
		cli_progress_init(&rn.pg, false);
		o.verbose = false; /* (the runner said what it did) */
		finish(&rn, st, st == EX_FAIL && cli_signal ? cli_signal : 0);
	}
	rn.b = calloc(1, sizeof *rn.b);
	if (rn.b) {
		rn.b->stage = malloc(rn.b->stage_cap = STAGE_BYTES);
		rn.b->stamped_framing = -1;
	}
	if (!rn.b || !rn.b->stage)
		cli_die(EX_FAIL, "out of memory");
	cli_progress_init(&rn.pg, o.progress);
	pump(&rn);
	return EX_OK;
}
