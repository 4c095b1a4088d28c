/* eshm-demo - the original guide's demo: a master greets at a steady rate, a slave answers. */
/*
 * eshm-demo master NAME    sends "Hello from master #N" every millisecond
 *                          and prints the replies
 * eshm-demo slave NAME     prints each message and answers "ACK from slave #N"
 *
 * Either side pairs with python/examples/simple_master.py and simple_slave.py
 * as well. Only the public API (eshm.h) is used; build it on its own with
 *
 *     cc -o eshm-demo eshm-demo.c $(pkg-config --cflags --libs eshm)
 */
#include <errno.h>
#include <eshm.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "eshm-demo"
#define STATS_NS 1000000000LL /* statistics every second, as the original */
#define LOOK_NS 100000000LL   /* how often we look at the peer's state */
#define STALL_NS 100000000LL  /* the master late by more starts a new schedule */

enum { OPT_RETRIES = CHAR_MAX + 1 };

static const struct option longopts[] = {
	{"interval", required_argument, NULL, 'i'},
	{"count", required_argument, NULL, 'n'},
	{"quiet", no_argument, NULL, 'q'},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void
usage(void)
{
	printf("Usage: %s [options] master|slave NAME\n"
	       "The demo of the original guide, on shared-memory segment NAME: the master\n"
	       "sends \"Hello from master #N\" at a steady rate and prints the replies; the\n"
	       "slave prints each message and answers \"ACK from slave #N\". Start them in\n"
	       "either order. Each pairs with python/examples/simple_*.py too.\n"
	       "\n"
	       "  -i, --interval MS   the master's time between two messages (default 1:\n"
	       "                      1000 a second)\n"
	       "  -n, --count N       stop after N messages: the slave once it answered N,\n"
	       "                      the master once it sent N and read their replies\n"
	       "                      (or once none can come)\n"
	       "  -q, --quiet         print statistics and the peer's comings and goings,\n"
	       "                      not every message\n"
	       "      --retries N     wait N times 100 ms for a peer that is gone to come\n"
	       "                      back before giving up (default 50)\n"
	       "  -h, --help          show this help and exit\n"
	       "  -V, --version       show the version and exit\n"
	       "\n"
	       "Statistics (messages sent and received, and the rate of those the master\n"
	       "sends or the slave receives) come every second, over that second, and at\n"
	       "exit, over the whole run. SIGINT or SIGTERM ends a side and its stream,\n"
	       "as the end of -n does: a slave then ends too, a master waits for another\n"
	       "slave. A peer that dies (kill -9) is waited for instead, to reconnect.\n"
	       "Exit status: 0 done, or ended by SIGINT or SIGTERM; 1 failure (such as a\n"
	       "peer gone for longer than --retries allows); 2 usage error.\n",
	       PROG);
}

__attribute__((format(printf, 1, 2))) _Noreturn static void
usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", PROG);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry '%s --help'.\n", PROG);
	va_end(ap);
	exit(2);
}

/* A decimal number from min to max, or a usage error naming the option. */
static unsigned long long
number(const char *opt, const char *s, unsigned long long min, unsigned long long max)
{
	char *end = NULL;
	unsigned long long v = 0;
	errno = 0;
	if (*s >= '0' && *s <= '9')
		v = strtoull(s, &end, 10);
	if (!end || *end || errno || v < min || v > max)
		usage_error("invalid number for %s: '%s' (%llu to %llu)", opt, s, min, max);
	return v;
}

/* Set by SIGINT, SIGTERM and SIGHUP; the library's blocking calls watch
 * it too. */
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct demo {
	eshm_t *h;
	const char *name;
	const char *tag;  /* "MASTER" or "SLAVE", before every line */
	const char *peer; /* what we call the other side */
	bool master, quiet;
	int64_t interval;         /* the master's, in ns */
	unsigned long long count; /* -n, 0: no end */
	int retries;
	char *buf; /* a message read */
	size_t cap;
	unsigned long long sent, received;
	bool full;     /* our channel was full at the last write */
	int out_errno; /* why writing stdout failed, or 0 */
	/* statistics: since when, and how many at the last line */
	int64_t start, line_at, next_stats;
	unsigned long long line_count;
	/* the peer as last seen */
	int peer_state;
	pid_t peer_pid;
	int64_t next_look;
	struct eshm_info *info;
};

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One line of output, "[MASTER] ..." */
__attribute__((format(printf, 2, 3))) static void
say(struct demo *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("[%s] ", d->tag);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (ferror(stdout) && !d->out_errno)
		d->out_errno = errno ? errno : EIO;
}

/* Why a call on the handle failed: "eshm-demo: NAME: reason" on stderr. */
static int
fail(struct demo *d, int code)
{
	const char *why = eshm_errmsg(d->h);
	fprintf(stderr, "%s: %s: %s\n", PROG, d->name, why && *why ? why : eshm_strerror(code));
	return EXIT_FAILURE;
}

static void
statistics(struct demo *d, int64_t now, bool final)
{
	unsigned long long n = d->master ? d->sent : d->received;
	int64_t since = final ? d->start : d->line_at;
	unsigned long long before = final ? 0 : d->line_count;
	double secs = (double)(now - since) / 1e9;
	say(d, "Messages: sent=%llu, received=%llu, rate=%.0f msg/sec", d->sent, d->received,
	    secs > 0 ? (double)(n - before) / secs : 0.0);
	d->line_at = now;
	d->line_count = n;
}

/* The pid of the peer we read from: the first live one, else a dead one. */
static pid_t
peer_pid(struct demo *d)
{
	if (eshm_stats(d->h, d->info))
		return 0;
	return d->info->chan[d->master ? 1 : 0].writer.pid;
}

/* Say when the peer comes, stops answering, goes, or comes back. Its
 * liveness is the library's: a lock the kernel drops when it dies, and a
 * heartbeat that shows it stopped. */
static void
look_at_peer(struct demo *d)
{
	int st = eshm_peer_state(d->h);
	if (st < 0 || st == d->peer_state)
		return;
	pid_t pid = peer_pid(d);
	switch (st) {
	case ESHM_PEER_ALIVE:
		if (d->peer_state == ESHM_PEER_STALE && pid == d->peer_pid)
			say(d, "%s (pid %d) responds again", d->peer, (int)pid);
		else
			say(d, "%s %s (pid %d)", d->peer, d->peer_pid ? "reconnected" : "connected",
			    (int)pid);
		break;
	case ESHM_PEER_STALE:
		say(d, "%s (pid %d) does not respond: its heartbeat is stale", d->peer, (int)pid);
		break;
	case ESHM_PEER_DEAD:
		say(d,
		    "%s (pid %d) is gone without ending its stream: waiting for it to "
		    "reconnect (%d retries of 100 ms)",
		    d->peer, (int)pid, d->retries);
		break;
	case ESHM_PEER_NONE:
		/* (after a dead one: a new one came and went between looks) */
		if (d->peer_state != ESHM_PEER_DEAD)
			say(d, "%s (pid %d) detached", d->peer, (int)d->peer_pid);
		break;
	}
	d->peer_state = st;
	if (pid)
		d->peer_pid = pid;
}

/* Read a message, waiting until due at most: rounded up to a whole
 * millisecond, as the library's timeouts are (the master's schedule makes
 * up for it). A wait that ends with nothing is also when the library sees
 * that a writer is lost, and after max_retries x retry_ms says so. */
static ssize_t
read_until(struct demo *d, int64_t due)
{
	int64_t ms = (due - now_ns() + 999999) / 1000000;
	return eshm_read(d->h, d->buf, d->cap, ms > 0 ? (int)ms : 0);
}

/* Statistics and a look at the peer, when they are due; returns when the
 * next of them is. */
static int64_t
tick(struct demo *d)
{
	int64_t now = now_ns();
	if (now >= d->next_look) {
		look_at_peer(d);
		d->next_look = now + LOOK_NS;
	}
	if (now >= d->next_stats) {
		statistics(d, now, false);
		d->next_stats = now + STATS_NS;
	}
	return d->next_look < d->next_stats ? d->next_look : d->next_stats;
}

/*
 * Messages are C strings sent with their terminating NUL, as the original
 * demo sent them (hence "Received (21 bytes): Hello from master #0"); one
 * from elsewhere may come without. Either way we print the text up to the
 * first NUL.
 */
static int
text_len(const char *buf, ssize_t n)
{
	const char *nul = memchr(buf, '\0', (size_t)n);
	return (int)(nul ? nul - buf : n);
}

/* Write one of our messages without waiting: a channel full means that
 * nobody reads it now, and a steady sender must not stop for that (the
 * master tries its greeting again at the next tick, the slave drops its
 * reply). 1 if it was written, 0 if not, or an error. */
static int
send_text(struct demo *d, const char *msg)
{
	int r = eshm_write(d->h, msg, strlen(msg) + 1, 0);
	if (r == ESHM_ETIMEDOUT) {
		if (!d->full)
			say(d, "Channel %s is full: nobody reads it now",
			    d->master ? "m2s" : "s2m");
		d->full = true;
		return 0;
	}
	if (r)
		return r;
	d->full = false;
	d->sent++;
	if (!d->quiet)
		say(d, "Sent: %s", msg);
	return 1;
}

/*
 * The master: a greeting every interval, on a fixed schedule (one sent late
 * does not make the next one late too), the replies read in between. With
 * -n, it ends its stream after the last greeting and waits for the replies.
 */
static int
master(struct demo *d)
{
	char msg[64];
	bool ended = false, last_look = false;
	int64_t next = now_ns();
	for (;;) {
		int64_t due = tick(d);
		if (stop || d->out_errno)
			return EXIT_SUCCESS;
		if (!ended && now_ns() >= next) {
			snprintf(msg, sizeof msg, "Hello from master #%llu", d->sent);
			int r = send_text(d, msg);
			if (r < 0)
				return fail(d, r);
			if (d->count && d->sent == d->count) {
				if ((r = eshm_eos(d->h)))
					return fail(d, r);
				ended = true;
			}
			/* late by much (stopped, say): a new schedule, not a burst */
			next += d->interval;
			if (now_ns() - next > STALL_NS)
				next = now_ns() + d->interval;
		}
		if (!ended && next < due)
			due = next;
		ssize_t n = last_look ? eshm_read(d->h, d->buf, d->cap, 0) : read_until(d, due);
		if (n >= 0) {
			if (d->peer_state != ESHM_PEER_ALIVE)
				look_at_peer(d); /* a new peer: said before what it sent */
			d->received++;
			if (!d->quiet)
				say(d, "Received: %.*s", text_len(d->buf, n), d->buf);
			last_look = false;
			if (ended && d->received >= d->count)
				return EXIT_SUCCESS;
		} else if (n == ESHM_EOF) {
			say(d, "The slave ended its stream");
			if (ended)
				return EXIT_SUCCESS;
		} else if (n == ESHM_ETIMEDOUT) {
			if (last_look)
				return EXIT_SUCCESS;
			/* No reply can come when the slave took everything and
			 * holds no end to answer on (performance_test.py's
			 * slave only reads): then one last look, for a reply
			 * written just before its writer left. */
			last_look = ended && eshm_peer_state(d->h) == ESHM_PEER_NONE &&
				    eshm_flush(d->h, 0) == 0;
		} else if (n != -EINTR) {
			return fail(d, (int)n);
		}
	}
}

/* The slave: each message printed and answered, until the master ends its
 * stream (or -n). */
static int
slave(struct demo *d)
{
	char ack[64];
	for (;;) {
		int64_t due = tick(d);
		if (stop || d->out_errno)
			return EXIT_SUCCESS;
		ssize_t n = read_until(d, due);
		if (n >= 0) {
			if (d->peer_state != ESHM_PEER_ALIVE)
				look_at_peer(d); /* a new peer: said before what it sent */
			if (!d->quiet)
				say(d, "Received (%zd bytes): %.*s", n, text_len(d->buf, n),
				    d->buf);
			snprintf(ack, sizeof ack, "ACK from slave #%llu", d->received);
			d->received++;
			int r = send_text(d, ack);
			if (r < 0)
				return fail(d, r);
			if (d->count && d->received == d->count)
				return EXIT_SUCCESS;
		} else if (n == ESHM_EOF) {
			say(d, "The master ended its stream");
			return EXIT_SUCCESS;
		} else if (n != ESHM_ETIMEDOUT && n != -EINTR) {
			return fail(d, (int)n);
		}
	}
}

int
main(int argc, char **argv)
{
	struct demo d = {.interval = 1000000, .retries = 50};
	int c;
	while ((c = getopt_long(argc, argv, "i:n:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			d.interval = (int64_t)number("--interval", optarg, 1, 3600000) * 1000000;
			break;
		case 'n':
			d.count = number("--count", optarg, 1, ULLONG_MAX);
			break;
		case 'q':
			d.quiet = true;
			break;
		case OPT_RETRIES:
			d.retries = (int)number("--retries", optarg, 0, 1000000);
			break;
		case 'h':
			usage();
			return fflush(stdout) || ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
		case 'V':
			printf("%s (eshm) %s\n", PROG, ESHM_VERSION_STRING);
			return fflush(stdout) || ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
		default:
			/* getopt has said what was wrong */
			fprintf(stderr, "Try '%s --help'.\n", PROG);
			return 2;
		}
	}
	if (argc - optind < 2)
		usage_error("missing %s", optind == argc ? "master|slave and NAME" : "NAME");
	if (argc - optind > 2)
		usage_error("unexpected argument '%s'", argv[optind + 2]);
	if (strcmp(argv[optind], "master") && strcmp(argv[optind], "slave"))
		usage_error("invalid role '%s' (master or slave)", argv[optind]);
	d.master = !strcmp(argv[optind], "master");
	d.name = argv[optind + 1];
	if (eshm_name_check(d.name))
		usage_error("invalid segment name '%s': %s", d.name, eshm_strerror(ESHM_ENAME));
	d.tag = d.master ? "MASTER" : "SLAVE";
	d.peer = d.master ? "Slave" : "Master";

	/* no SA_RESTART: a blocking call must return when we are told to stop */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* a line at a time, even into a file or a pipe: it is a live log */
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Our role's two ends, held alone, as the original's master/slave
	 * pair: a second master (or slave) is refused with the first one's
	 * pid. A peer that dies is waited for, max_retries x retry_ms. */
	struct eshm_config cfg;
	eshm_config_init(&cfg);
	cfg.role = d.master ? ESHM_ROLE_MASTER : ESHM_ROLE_SLAVE;
	cfg.flags |= ESHM_EXCLUSIVE;
	cfg.max_retries = d.retries;
	cfg.interrupt = &stop;
	say(&d, "Starting %s process on segment %s...", d.master ? "master" : "slave", d.name);
	struct eshm_error err;
	int r = eshm_open(d.name, &cfg, &d.h, &err);
	if (r == -EINTR && stop)
		return EXIT_SUCCESS;
	if (r) {
		fprintf(stderr, "%s: %s: %s\n", PROG, d.name,
			err.what[0] ? err.what : eshm_strerror(r));
		return EXIT_FAILURE;
	}
	d.cap = eshm_max_message(d.h);
	d.buf = malloc(d.cap ? d.cap : 1);
	d.info = malloc(sizeof *d.info);
	if (!d.buf || !d.info) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		eshm_detach(d.h, ESHM_DETACH_LOST, NULL);
		return EXIT_FAILURE;
	}
	say(&d, "Initialized with role: %s (pid %d, %s the segment)", d.tag, (int)getpid(),
	    eshm_created(d.h) ? "created" : "attached to");
	if (d.master)
		say(&d, "Sending a message every %lld ms (%.0f msg/sec)",
		    (long long)(d.interval / 1000000), 1e9 / (double)d.interval);
	d.start = d.line_at = now_ns();
	d.next_stats = d.start + STATS_NS;

	int status = d.master ? master(&d) : slave(&d);

	statistics(&d, now_ns(), true);
	/* Done, or told to stop: our stream ends, the peer sees it end. After a
	 * failure, it does not: we detach as a lost writer, and the peer waits
	 * for us to come back, as after a crash. */
	bool lost = status != EXIT_SUCCESS || d.out_errno;
	r = eshm_detach(d.h, lost ? ESHM_DETACH_LOST : 0, &err);
	if (r) {
		/* -EPERM: all was delivered, only the empty file of another
		 * user stays behind */
		fprintf(stderr, "%s: %s: %s\n", PROG, d.name,
			err.what[0] ? err.what : eshm_strerror(r));
		if (r != -EPERM)
			status = EXIT_FAILURE;
	}
	free(d.buf);
	free(d.info);
	if (fflush(stdout) || ferror(stdout) || d.out_errno) {
		fprintf(stderr, "%s: cannot write standard output: %s\n", PROG,
			strerror(d.out_errno ? d.out_errno : errno));
		status = EXIT_FAILURE;
	}
	return status;
}
