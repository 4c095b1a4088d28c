/* eshm-send - copy standard input into a channel of a shared-memory segment. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "peers.h"

enum {
	OPT_LINES = CLI_OPT_NEXT,
	OPT_RAW,
	OPT_WAIT,
	OPT_WAIT_TURN,
	OPT_REPLAY,
	OPT_SPEED,
};

static const struct option longopts[] = {
	{"null", no_argument, NULL, '0'},
	{"lines", no_argument, NULL, OPT_LINES},
	{"raw", no_argument, NULL, OPT_RAW},
	CLI_SEGMENT_LONGOPTS,
	{"wait", no_argument, NULL, OPT_WAIT},
	{"wait-turn", no_argument, NULL, OPT_WAIT_TURN},
	{"timeout", required_argument, NULL, 't'},
	{"progress", no_argument, NULL, 'p'},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"replay", no_argument, NULL, OPT_REPLAY},
	{"speed", required_argument, NULL, OPT_SPEED},
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
	       "      --raw              a byte stream; chunk boundaries are not kept.\n"
	       "                         It has the channel to itself: refused while\n"
	       "                         other writers are attached\n"
	       "      --wait-turn        with --raw, wait for the other writers to\n"
	       "                         finish instead (bounded by --timeout)\n"
	       "      --replay           standard input is a recording (made by\n"
	       "                         eshm-recv with timestamps): send its messages,\n"
	       "                         in its framing, with their original spacing\n"
	       "      --speed X          with --replay, X times as fast (default 1;\n"
	       "                         0: as fast as possible)\n"
	       "\n"
	       "Up to 64 writers share a channel; each message arrives whole, and each\n"
	       "writer's in its order. A writer that meets a raw stream waits for it\n"
	       "to end (bounded by --timeout).\n"
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
	       "      --retries N        tries of --no-create, 100 ms apart (default 50)\n"
	       "      --role ROLE        master (default: write m2s) or slave (write s2m)\n"
	       "      --exclusive        be the channel's only writer: refused while\n"
	       "                         another is attached, and refuse others\n"
	       "      --takeover         take the writer end from a stale exclusive\n"
	       "                         holder\n"
	       "      --heartbeat DURATION  heartbeat period (default 1ms)\n"
	       "      --stale DURATION   heartbeat age reported as stale (default 100ms)\n"
	       "\n"
	       "Behaviour:\n"
	       "  -t, --timeout DURATION give up when the channel stays full that long\n"
	       "                         (also the longest wait for a turn, and with\n"
	       "                         --wait, the longest wait at the end)\n"
	       "      --wait             at the end, wait until the reader took everything\n"
	       "  -p, --progress         show bytes, messages and rate on stderr\n"
	       "  -v, --verbose          say what happens on stderr, and when readers\n"
	       "                         come, go, die or stall, a line each\n"
	       "  -q, --quiet            no warnings on stderr, only errors\n"
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
	bool wait, progress, verbose, replay, framed;
	double speed;
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
	o->speed = 1;
	bool speed_given = false;
	while ((c = getopt_long(argc, argv, "0c:t:pvqhV", longopts, NULL)) != -1) {
		switch (c) {
		case '0':
			o->delim = '\0';
			o->cfg.framing = ESHM_FRAMING_NULL;
			o->framed = true;
			break;
		case OPT_LINES:
			o->delim = '\n';
			o->cfg.framing = ESHM_FRAMING_LINE;
			o->framed = true;
			break;
		case OPT_RAW:
			o->delim = -1;
			o->cfg.framing = ESHM_FRAMING_RAW;
			o->framed = true;
			break;
		case OPT_REPLAY:
			o->replay = true;
			break;
		case OPT_SPEED: {
			char *end;
			errno = 0;
			o->speed = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->speed >= 0) || o->speed > 1e9)
				cli_usage_error("invalid --speed '%s': a number from 0 (as fast "
						"as possible) to 1e9",
						optarg);
			speed_given = true;
			break;
		}
		case OPT_WAIT:
			o->wait = true;
			break;
		case OPT_WAIT_TURN:
			o->cfg.flags |= ESHM_WAIT_TURN;
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
		case 'q':
			cli_quiet = true;
			break;
		default:
			if (!cli_segment_option(c, optarg, &o->cfg))
				cli_other_option(c, usage);
		}
	}
	cli_one_name(argc, argv, &o->cfg);
	if (o->verbose && cli_quiet)
		cli_usage_error("--verbose and --quiet: one or the other");
	if (o->replay && o->framed)
		cli_usage_error("--replay sends in the recording's framing: no --lines, --null "
				"or --raw");
	if (speed_given && !o->replay)
		cli_usage_error("--speed goes with --replay");
}

/* Detach and report what detaching found (unless said already): the
 * segment removed under us (what we sent is lost: a failure), or left
 * behind because /dev/shm is sticky (a warning). Returns the exit status
 * it implies. */
static int
detach(eshm_t *h, unsigned how, int status, const char *said)
{
	struct eshm_error err;
	int r = eshm_detach(h, how, &err);
	const char *why = cli_err_text(&err, r);
	if (r == -EPERM)
		cli_note("%s", why);
	else if (r && !(said && !strcmp(said, why)))
		cli_warn("%s", why);
	return r && r != -EPERM && status == EX_OK ? EX_FAIL : status;
}

/* Ends the program for a failure while sending. The stream stays open: a
 * reader sees a lost writer (and waits for a new one), never a complete
 * stream that is not. */
static _Noreturn void
fail(eshm_t *h, int r, struct cli_progress *pg)
{
	char why[256];
	snprintf(why, sizeof why, "%s", cli_lib_text(h, r));
	cli_progress_done(pg);
	cli_warn("%s", why);
	exit(detach(h, ESHM_DETACH_LOST, r == ESHM_ETIMEDOUT ? EX_TIMEOUT : EX_FAIL, why));
}

/* The same for a failure we describe ourselves. */
static _Noreturn void __attribute__((format(printf, 3, 4)))
failf(eshm_t *h, struct cli_progress *pg, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	cli_progress_done(pg);
	cli_warn("%s", buf);
	exit(detach(h, ESHM_DETACH_LOST, EX_FAIL, NULL));
}

/*
 * Input that was read but has no room in the ring yet: only while the end
 * of a long message is sought (see finish_message), so that a line that
 * can never fit is known before we wait for space.
 */
struct input {
	unsigned char *buf;
	size_t len, cap;
	bool eof;
};

struct send {
	eshm_t *h;
	const struct opts *o;
	struct cli_progress *pg;
	struct input in;
	size_t carry;        /* bytes of an unfinished message, carried in the ring */
	struct peers *peers; /* -v */
};

#define IDLE_CHECK_MS 500

/* eshm_reserve waiting up to timeout_ms for room: with -v in slices, to
 * look at the readers meanwhile (a reader that died is told while we wait
 * for the room it will never make). */
static int
reserve(struct send *sd, size_t min, void **p, size_t *avail, int timeout_ms)
{
	int64_t dl = peers_deadline(timeout_ms);
	int r;
	do
		r = eshm_reserve(sd->h, min, p, avail, peers_slice(sd->peers, dl));
	while (peers_again(sd->peers, r, dl));
	return r;
}

/*
 * Wait until standard input has something (or its end) to read, holding no
 * ring space meanwhile. Every IDLE_CHECK_MS, make sure the segment is still
 * ours: not taken over while we were stopped, not removed; with -v, look
 * at the readers when it is time. 0 when there is input, -1 on a signal; a
 * failure ends the program.
 */
static int
wait_input(struct send *sd)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	for (;;) {
		int n = poll(&pfd, 1, peers_slice(sd->peers, peers_deadline(IDLE_CHECK_MS)));
		peers_look(sd->peers);
		if (n < 0 && errno == EINTR) {
			if (cli_signal)
				return -1;
			continue;
		}
		if (n != 0) /* ready, or an error that read(2) will name */
			return 0;
		/* idle: the library checks ownership itself before it touches
		 * the ring, but removal only while it waits */
		int r = eshm_check(sd->h);
		if (r)
			fail(sd->h, r, sd->pg);
	}
}

/* Read up to want bytes of input into dst: what was read ahead first. */
static ssize_t
get_input(struct send *sd, void *dst, size_t want)
{
	struct input *in = &sd->in;
	if (in->len) {
		size_t n = in->len < want ? in->len : want;
		memcpy(dst, in->buf, n);
		memmove(in->buf, in->buf + n, in->len - n);
		in->len -= n;
		return (ssize_t)n;
	}
	if (in->eof)
		return 0;
	ssize_t n = read(STDIN_FILENO, dst, want);
	if (n == 0)
		in->eof = true;
	return n;
}

/* read(2) failed: a signal (-1 back), or the end of the program. */
static int input_error(struct send *sd);

/* Read a little input aside, to learn that there is some: 0 when there
 * is, 1 at the end of input, -1 on a signal. Little, as it is copied once
 * more: the rest still goes straight into the ring (reading 64 KiB aside
 * each time the ring was full cost a 1 GiB --raw copy 10%). */
#define AHEAD 4096

static int
read_ahead(struct send *sd)
{
	struct input *in = &sd->in;
	while (!in->len) {
		if (in->eof)
			return 1;
		if (!in->cap && !(in->buf = malloc(in->cap = 65536)))
			failf(sd->h, sd->pg, "out of memory");
		ssize_t n = read(STDIN_FILENO, in->buf, AHEAD);
		if (n < 0 && input_error(sd))
			return -1;
		if (n == 0)
			in->eof = true;
		if (n > 0)
			in->len = (size_t)n;
	}
	return 0;
}

static int
input_error(struct send *sd)
{
	if (errno == EINTR)
		return cli_signal ? -1 : 0;
	/* the kernel could not write into the ring: truncated? */
	if (errno == EFAULT && eshm_check(sd->h))
		fail(sd->h, ESHM_ECORRUPT, sd->pg);
	failf(sd->h, sd->pg, "cannot read standard input: %s", strerror(errno));
}

static _Noreturn void
too_long(struct send *sd, size_t len, bool exact)
{
	size_t max = eshm_max_message(sd->h);
	failf(sd->h, sd->pg,
	      "a %s of %s%zu bytes exceeds the %zu bytes a message may have in a "
	      "%zu-byte channel; recreate the segment with a larger -c/--capacity",
	      sd->o->delim ? "line" : "record", exact ? "" : "more than ", exact ? len : max, max,
	      eshm_capacity(sd->h));
}

/*
 * The unfinished message carried in the ring has no room to grow: the ring
 * is full, or it is as long as a message may be. Read on, aside, until its
 * end is known: if it is too long, fail now, whatever the ring holds (a
 * line that can never fit must not wait for space forever); if it fits,
 * wait for the room it needs and commit it. A message of exactly the
 * longest length has no room for its delimiter and goes as a message
 * record, which readers print with the same delimiter. At end of input,
 * the last message may lack its delimiter: it is still a message.
 * Returns 0, or -1 on a signal.
 */
static int
finish_message(struct send *sd)
{
	struct input *in = &sd->in;
	int delim = sd->o->delim;
	size_t max = eshm_max_message(sd->h), k;
	for (;;) {
		const unsigned char *q = in->len ? memchr(in->buf, delim, in->len) : NULL;
		if (q) {
			k = (size_t)(q - in->buf);
			break;
		}
		if (sd->carry + in->len > max)
			too_long(sd, 0, false);
		if (in->eof) {
			k = in->len;
			break;
		}
		if (in->cap - in->len < 65536) {
			size_t nc = in->len + 65536;
			unsigned char *nb = realloc(in->buf, nc);
			if (!nb)
				failf(sd->h, sd->pg, "out of memory");
			in->buf = nb;
			in->cap = nc;
		}
		if (wait_input(sd))
			return -1;
		ssize_t n = read(STDIN_FILENO, in->buf + in->len, in->cap - in->len);
		if (n < 0 && input_error(sd))
			return -1;
		if (n == 0)
			in->eof = true;
		if (n > 0)
			in->len += (size_t)n;
	}
	size_t len = sd->carry + k;
	if (len > max)
		too_long(sd, len, true);
	void *p;
	size_t avail;
	int r = reserve(sd, len < max ? len + 1 : len, &p, &avail, sd->o->timeout_ms);
	if (r == -EINTR && cli_signal)
		return -1;
	if (r)
		fail(sd->h, r, sd->pg);
	memcpy((char *)p + sd->carry, in->buf, k);
	ssize_t m;
	if (len < max) {
		((char *)p)[len] = (char)delim;
		m = eshm_commit_delimited(sd->h, len + 1, delim);
	} else {
		m = eshm_commit(sd->h, len);
	}
	if (m < 0)
		fail(sd->h, (int)m, sd->pg);
	size_t used = k < in->len ? k + 1 : k; /* with its delimiter, if it had one */
	memmove(in->buf, in->buf + used, in->len - used);
	in->len -= used;
	sd->carry = 0;
	cli_progress_add(sd->pg, used, 1);
	return 0;
}

/*
 * Reads go straight into the ring and are published as soon as read()
 * returns, so `tail -f log | eshm-send q` is live. An unfinished line stays
 * at the start of the next reservation (eshm_commit_lines carries it).
 * Ring space is reserved only once input is there to read, so a writer
 * waiting for input holds none.
 *
 * One thread reads. The kernel's copy out of the page cache is 76% of our
 * time on a 1 GiB file (perf), so two threads preading halves of each
 * reservation were tried: on 2 cores it was slower (0.14-0.16 s against
 * 0.12 s), as the receiver's spin then loses its core and sleeps (6,500
 * context switches instead of 120), and every wake costs ~45 us there.
 *
 * Returns 0 at the end of input, -1 on a signal.
 */
static int
pump(struct send *sd)
{
	const struct opts *o = sd->o;
	eshm_t *h = sd->h;
	/* large reads for files, but a quarter of the ring so that the
	 * reader can start on one part while we fill the next */
	size_t chunk = eshm_capacity(h) / 4;
	if (chunk < 65536)
		chunk = 65536;
	for (;;) {
		if (!sd->in.len && !sd->in.eof && wait_input(sd))
			return -1;
		if (!sd->in.len && sd->in.eof)
			break;
		void *p;
		size_t avail;
		int r = eshm_reserve(h, sd->carry + 1, &p, &avail, 0);
		if (sd->carry && (r == ESHM_ETIMEDOUT || r == ESHM_EMSGSIZE)) {
			if (finish_message(sd))
				return -1;
			continue;
		}
		if (r == ESHM_ETIMEDOUT) {
			/* full: wait for room only with input in hand (it may
			 * be the end of input, which needs none) */
			int e = read_ahead(sd);
			if (e)
				return e < 0 ? -1 : 0;
			r = reserve(sd, 1, &p, &avail, o->timeout_ms);
		}
		if (r == -EINTR && cli_signal)
			return -1;
		if (r)
			fail(h, r, sd->pg);
		size_t want = avail - sd->carry;
		if (want > chunk)
			want = chunk;
		ssize_t n = get_input(sd, (char *)p + sd->carry, want);
		if (n < 0) {
			if (input_error(sd))
				return -1;
			continue;
		}
		if (n == 0)
			break;
		ssize_t m;
		if (o->delim < 0) {
			m = eshm_commit(h, (size_t)n);
			m = m ? m : 1;
		} else {
			m = eshm_commit_lines(h, sd->carry + (size_t)n, o->delim, &sd->carry);
		}
		if (m < 0)
			fail(h, (int)m, sd->pg);
		cli_progress_add(sd->pg, (uint64_t)n, (uint64_t)m);
		peers_look(sd->peers);
		if (cli_signal)
			return -1;
	}
	/* the last message may lack its delimiter */
	return sd->carry ? finish_message(sd) : 0;
}

/* The framing a recording's header line "eshm-rec 1 FRAMING\n" names,
 * or -1. */
static int
recording_framing(const char *line)
{
	static const char head[] = "eshm-rec 1 ";
	if (strncmp(line, head, sizeof head - 1) != 0)
		return -1;
	const char *name = line + sizeof head - 1;
	size_t n = strcspn(name, "\n");
	for (int f = 0; f < 4; f++) {
		const char *fn = eshm_framing_name(f);
		if (fn && strlen(fn) == n && strncmp(fn, name, n) == 0 && name[n] == '\n')
			return f;
	}
	return -1;
}

/* The first line of a recording on standard input: its framing, or the
 * program ends saying why. */
static int
replay_start(FILE *in)
{
	char line[128];
	if (!fgets(line, sizeof line, in)) {
		if (ferror(in))
			cli_die(EX_FAIL, "cannot read standard input: %s", strerror(errno));
		cli_die(EX_FAIL, "--replay: standard input is empty, not a recording");
	}
	int f = recording_framing(line);
	if (f < 0)
		cli_die(EX_FAIL, "--replay: standard input is not a recording of eshm-recv "
				 "--timestamps: it starts with no 'eshm-rec 1 FRAMING' line");
	return f;
}

/* t plus secs seconds */
static struct timespec
ts_add(struct timespec t, double secs)
{
	t.tv_sec += (time_t)secs;
	t.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/* Wait until start + (t - t0) / speed; 0, or -1 on a signal. With -v in
 * slices, to look at the readers during a long pause. */
static int
replay_wait(struct send *sd, const struct timespec *start, double t, double t0)
{
	double speed = sd->o->speed;
	if (speed <= 0 || t <= t0)
		return 0;
	struct timespec at = ts_add(*start, (t - t0) / speed);
	for (;;) {
		struct timespec until = at, now;
		int ms = peers_slice(sd->peers, -1);
		clock_gettime(CLOCK_MONOTONIC, &now);
		now = ts_add(now, ms / 1000.0);
		bool last = ms < 0 || now.tv_sec > at.tv_sec ||
			    (now.tv_sec == at.tv_sec && now.tv_nsec >= at.tv_nsec);
		if (!last)
			until = now;
		int e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
		if (e == EINTR && cli_signal)
			return -1;
		peers_look(sd->peers);
		if (e == 0 && last)
			return 0;
	}
}

/*
 * Send the messages of the recording on standard input (its first line
 * read already: framing), each after the time since the first that the
 * recording shows, divided by --speed. 0 at its end, -1 on a signal; a
 * malformed recording or a failure ends the program.
 */
static int
replay(struct send *sd, FILE *in, int framing)
{
	char *line = NULL;
	size_t cap = 0, bufcap = 0;
	unsigned char *buf = NULL;
	unsigned long long lineno = 1;
	double t0 = 0;
	bool first = true;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int delim = sd->o->delim;
	for (ssize_t n; (n = getline(&line, &cap, in)) > 0;) {
		lineno++;
		if (strncmp(line, "eshm-rec ", 9) == 0) {
			int f = recording_framing(line);
			if (f != framing)
				failf(sd->h, sd->pg,
				      "--replay: line %llu of the recording changes its framing "
				      "(%.*s): a replay sends in one framing",
				      lineno, (int)strcspn(line, "\n"), line);
			continue;
		}
		long long sec;
		long nsec;
		unsigned long long len;
		char nl;
		if (sscanf(line, "%lld.%9ld %llu%c", &sec, &nsec, &len, &nl) != 4 || nl != '\n' ||
		    nsec < 0 || len > eshm_max_message(sd->h))
			failf(sd->h, sd->pg,
			      "--replay: line %llu of the recording is not 'SECONDS.NANOSECONDS "
			      "LENGTH' with a length up to %zu: %.*s",
			      lineno, eshm_max_message(sd->h), (int)strcspn(line, "\n"), line);
		if (len + 1 > bufcap) {
			unsigned char *nb = realloc(buf, (size_t)len + 1);
			if (!nb)
				failf(sd->h, sd->pg, "out of memory");
			buf = nb;
			bufcap = (size_t)len + 1;
		}
		if (fread(buf, 1, (size_t)len + 1, in) != (size_t)len + 1 || buf[len] != '\n')
			failf(sd->h, sd->pg,
			      "--replay: the recording ends inside the message of line %llu, or "
			      "that message is not %llu bytes and a newline",
			      lineno, len);
		lineno++;
		double t = (double)sec + (double)nsec / 1e9;
		if (first)
			t0 = t;
		first = false;
		if (replay_wait(sd, &start, t, t0))
			goto out;
		int r;
		if (delim >= 0) {
			void *p;
			size_t avail;
			if ((r = reserve(sd, (size_t)len + 1, &p, &avail, sd->o->timeout_ms)))
				fail(sd->h, r, sd->pg);
			memcpy(p, buf, (size_t)len);
			((unsigned char *)p)[len] = (unsigned char)delim;
			ssize_t m = eshm_commit_delimited(sd->h, (size_t)len + 1, delim);
			if (m < 0)
				fail(sd->h, (int)m, sd->pg);
			cli_progress_add(sd->pg, len + 1, (uint64_t)m);
		} else {
			int64_t dl = peers_deadline(sd->o->timeout_ms);
			do
				r = eshm_write(sd->h, buf, (size_t)len, peers_slice(sd->peers, dl));
			while (peers_again(sd->peers, r, dl));
			if (r)
				fail(sd->h, r, sd->pg);
			cli_progress_add(sd->pg, len, 1);
		}
		if (cli_signal)
			goto out;
	}
	if (ferror(in))
		failf(sd->h, sd->pg, "cannot read standard input: %s", strerror(errno));
out:
	free(line);
	free(buf);
	return cli_signal ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	struct cli_progress pg;
	eshm_t *h;
	int r;

	cli_init("eshm-send");
	parse(argc, argv, &o);
	cli_segment = argv[optind];
	cli_need_std(STDIN_FILENO);
	cli_signals();
	if (o.replay) {
		o.cfg.framing = replay_start(stdin);
		/* delimited records for lines and NULs; messages, raw data whole */
		bool delimited =
			o.cfg.framing == ESHM_FRAMING_LINE || o.cfg.framing == ESHM_FRAMING_NULL;
		o.delim = delimited ? eshm_framing_delim(o.cfg.framing) : -1;
	}
	struct peers *peers = o.verbose ? peers_new(cli_segment, &o.cfg) : NULL;
	h = cli_open(cli_segment, &o.cfg, o.timeout_ms);
	if (o.verbose)
		cli_log("%s segment, writing channel %s (%zu bytes, messages up to %zu); reader %s",
			eshm_created(h) ? "created" : "attached to",
			eshm_role(h) == ESHM_ROLE_MASTER ? "m2s" : "s2m", eshm_capacity(h),
			eshm_max_message(h), eshm_peer_state_name(eshm_peer_state(h)));
	peers_start(peers, h);

	cli_progress_init(&pg, o.progress);
	struct send sd = {.h = h, .o = &o, .pg = &pg, .peers = peers};
	if (o.replay ? replay(&sd, stdin, o.cfg.framing) : pump(&sd)) {
		/* Interrupted: the input did not end, so neither does the
		 * stream. Whole messages read so far are committed; a reader
		 * sees a lost writer after them. */
		cli_progress_done(&pg);
		if (sd.carry)
			cli_note("%zu bytes of an unfinished last %s were not sent", sd.carry,
				 o.delim ? "line" : "record");
		if (o.verbose)
			cli_log("sent %llu bytes in %llu messages before a signal; the stream "
				"is not ended",
				(unsigned long long)pg.bytes, (unsigned long long)pg.msgs);
		detach(h, ESHM_DETACH_LOST, EX_FAIL, NULL);
		cli_reraise(cli_signal);
	}
	/* mark end of stream now, so that --wait also waits for the mark */
	if ((r = eshm_eos(h)))
		fail(h, r, &pg);
	int status = EX_OK;
	if (o.wait && !cli_signal) {
		if (peers && o.timeout_ms < 0) {
			/* with -v in slices, to look at the readers while we
			 * wait for them; only when the wait is for good, as
			 * the message of one that timed out names the timeout
			 * it was given */
			do
				r = eshm_flush(h, peers_slice(peers, -1));
			while (peers_again(peers, r, -1));
		} else {
			r = eshm_flush(h, o.timeout_ms);
		}
		if (r && !(r == -EINTR && cli_signal)) {
			/* the stream is complete; only the wait failed */
			cli_warn("%s", eshm_errmsg(h));
			status = r == ESHM_ETIMEDOUT ? EX_TIMEOUT : EX_FAIL;
		}
	}
	cli_progress_done(&pg);
	if (o.verbose)
		cli_log("sent %llu bytes in %llu messages", (unsigned long long)pg.bytes,
			(unsigned long long)pg.msgs);
	status = detach(h, 0, status, NULL);
	free(sd.in.buf);
	peers_free(peers);
	cli_reraise(cli_signal);
	return status;
}
