/* eshm-bench - measure eshm against a pipe, a Unix socket and a POSIX message queue, in one run. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_COMPARE = CHAR_MAX + 1,
	OPT_CPUS,
	OPT_SPIN,
	OPT_CAPACITY,
	OPT_WRITERS,
	OPT_READERS,
	OPT_GROUPS,
};

#define MAX_REPEAT 64 /* runs kept per transport for the median */

static const struct option longopts[] = {
	{"sizes", required_argument, NULL, 's'},
	{"duration", required_argument, NULL, 'd'},
	{"repeat", required_argument, NULL, 'r'},
	{"case", required_argument, NULL, 'c'},
	{"compare", no_argument, NULL, OPT_COMPARE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"spin", required_argument, NULL, OPT_SPIN},
	{"capacity", required_argument, NULL, OPT_CAPACITY},
	{"writers", required_argument, NULL, OPT_WRITERS},
	{"readers", required_argument, NULL, OPT_READERS},
	{"groups", required_argument, NULL, OPT_GROUPS},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void
usage(void)
{
	printf("Usage: %s [options]\n"
	       "Measure message throughput and round-trip latency between two processes\n"
	       "over a temporary eshm segment (always removed), and with --compare over\n"
	       "a pipe, a Unix socket and a POSIX message queue in the same run.\n"
	       "\n"
	       "  -c, --case CASE        throughput, latency, idle, or all (default:\n"
	       "                         throughput and latency)\n"
	       "  -s, --sizes LIST       message sizes, e.g. 64,1K,64K (the default)\n"
	       "  -d, --duration DURATION  per case, size and transport (default 1s;\n"
	       "                         idle: 10s)\n"
	       "  -r, --repeat N         runs of each, interleaved; the median is shown\n"
	       "                         (default 3, at most %d)\n"
	       "      --compare          also pipe, Unix socket and POSIX message queue,\n"
	       "                         and for latency a bare futex ping-pong\n"
	       "      --cpus LIST        pin the two processes: 0,1 (or 0,0, or 0: one\n"
	       "                         shared core)\n"
	       "      --spin US          eshm's spin before sleeping: -1 adaptive\n"
	       "                         (default), 0 never\n"
	       "      --capacity SIZE    eshm ring per channel (default 1M); a size that\n"
	       "                         does not fit with 16 bytes to spare is skipped\n"
	       "      --writers N        throughput from N writer processes into one\n"
	       "                         reader (fan-in, 1 to 64; default 1): eshm, a\n"
	       "                         pipe (writes up to PIPE_BUF are atomic) and a\n"
	       "                         POSIX message queue take several writers\n"
	       "      --readers N        throughput from one writer to N reader\n"
	       "                         processes (fan-out, 1 to 64; default 1): each\n"
	       "                         message to one of them (eshm, a pipe, a POSIX\n"
	       "                         message queue), or, with --groups, to one\n"
	       "                         reader of each group (eshm only)\n"
	       "      --groups G         put the readers in G consumer groups (1 to 16,\n"
	       "                         at most N; default 1): every group gets every\n"
	       "                         message\n"
	       "  -j, --json             one JSON document (keys in eshm-bench(1))\n"
	       "  -h, --help             show this help and exit\n"
	       "  -V, --version          show the version and exit\n"
	       "\n"
	       "Progress goes to stderr when it is a terminal. Exit status: 0 success,\n"
	       "1 a transport failed, 2 usage error, 128+N ended by signal N.\n",
	       cli_prog, MAX_REPEAT);
}

enum ckind { C_THROUGHPUT, C_LATENCY, C_IDLE };
static const char *const cnames[] = {
	[C_THROUGHPUT] = "throughput",
	[C_LATENCY] = "latency",
	[C_IDLE] = "idle",
};

struct opts {
	size_t sizes[16];
	int nsizes;
	int64_t duration_ms;
	int64_t idle_ms; /* the idle case: -d, or 10 s; 0 if not run */
	int repeat;
	bool cases[3];
	bool compare, json;
	int cpu[2]; /* -1: not pinned */
	int spin_us;
	size_t capacity;
	int writers, readers, groups; /* throughput's topology */
};

static void
parse_sizes(struct opts *o, const char *arg)
{
	o->nsizes = 0;
	for (const char *p = arg;;) {
		/* one item: no empty ones, as "64,,1K" would be */
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char item[32];
		if (n == 0 || n >= sizeof item)
			cli_usage_error("invalid --sizes '%s' (e.g. 64,1K,64K)", arg);
		memcpy(item, p, n);
		item[n] = '\0';
		uint64_t v = cli_size_arg("--sizes", item);
		if (v == 0 || v > (16u << 20))
			cli_usage_error("message sizes must be between 1 byte and 16M, not '%s'",
					item);
		if (o->nsizes == 16)
			cli_usage_error("at most 16 sizes");
		o->sizes[o->nsizes++] = (size_t)v;
		if (!comma)
			break;
		p = comma + 1;
	}
}

static void
parse(int argc, char **argv, struct opts *o)
{
	int c;
	bool duration_set = false;
	o->sizes[0] = 64, o->sizes[1] = 1024, o->sizes[2] = 65536;
	o->nsizes = 3;
	o->duration_ms = 1000;
	o->repeat = 3;
	o->cases[C_THROUGHPUT] = o->cases[C_LATENCY] = true;
	o->cpu[0] = o->cpu[1] = -1;
	o->spin_us = -1;
	o->capacity = 1u << 20;
	o->writers = o->readers = o->groups = 1;
	while ((c = getopt_long(argc, argv, "s:d:r:c:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			parse_sizes(o, optarg);
			break;
		case 'd':
			o->duration_ms = cli_duration_ms_arg("--duration", optarg);
			if (o->duration_ms < 10)
				cli_usage_error("--duration must be at least 10ms");
			duration_set = true;
			break;
		case 'r':
			o->repeat = (int)cli_count_arg("--repeat", optarg, MAX_REPEAT);
			if (o->repeat < 1)
				cli_usage_error("--repeat must be at least 1");
			break;
		case 'c':
			memset(o->cases, 0, sizeof o->cases);
			if (!strcmp(optarg, "all"))
				o->cases[C_THROUGHPUT] = o->cases[C_LATENCY] = o->cases[C_IDLE] =
					true;
			else if (!strcmp(optarg, "throughput"))
				o->cases[C_THROUGHPUT] = true;
			else if (!strcmp(optarg, "latency"))
				o->cases[C_LATENCY] = true;
			else if (!strcmp(optarg, "idle"))
				o->cases[C_IDLE] = true;
			else
				cli_usage_error(
					"invalid --case '%s' (throughput, latency, idle or all)",
					optarg);
			break;
		case OPT_COMPARE:
			o->compare = true;
			break;
		case OPT_CPUS: {
			int a, b, n = 0;
			if (sscanf(optarg, "%d,%d%n", &a, &b, &n) == 2 && !optarg[n] && a >= 0 &&
			    b >= 0 && a < CPU_SETSIZE && b < CPU_SETSIZE) {
				o->cpu[0] = a, o->cpu[1] = b;
			} else if (sscanf(optarg, "%d%n", &a, &n) == 1 && !optarg[n] && a >= 0 &&
				   a < CPU_SETSIZE) {
				o->cpu[0] = o->cpu[1] = a;
			} else {
				cli_usage_error("invalid --cpus '%s' (e.g. 0,1 or 0)", optarg);
			}
			break;
		}
		case OPT_SPIN: {
			if (!strcmp(optarg, "-1")) {
				o->spin_us = -1;
				break;
			}
			o->spin_us = (int)cli_count_arg("--spin", optarg, 1000000);
			break;
		}
		case OPT_CAPACITY:
			o->capacity = cli_capacity_arg(optarg);
			break;
		case OPT_WRITERS:
			o->writers = (int)cli_count_arg("--writers", optarg, ESHM_MAX_WRITERS);
			if (o->writers < 1)
				cli_usage_error("--writers must be at least 1");
			break;
		case OPT_READERS:
			o->readers = (int)cli_count_arg("--readers", optarg, ESHM_MAX_READERS);
			if (o->readers < 1)
				cli_usage_error("--readers must be at least 1");
			break;
		case OPT_GROUPS:
			o->groups = (int)cli_count_arg("--groups", optarg, ESHM_MAX_GROUPS);
			if (o->groups < 1)
				cli_usage_error("--groups must be at least 1");
			break;
		case 'j':
			o->json = true;
			break;
		default:
			cli_other_option(c, usage);
		}
	}
	if (optind < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->groups > o->readers)
		cli_usage_error("--groups %d needs at least as many --readers", o->groups);
	if (o->readers > 1 && o->writers > 1)
		cli_usage_error("--writers and --readers: one of them is 1 (fan-in or fan-out)");
	if (o->cases[C_IDLE])
		o->idle_ms = duration_set ? o->duration_ms : 10000;
	/* a CPU we may not use would fail in one process after the fork */
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
		for (int i = 0; i < 2; i++)
			if (o->cpu[i] >= 0 && !CPU_ISSET(o->cpu[i], &allowed))
				cli_usage_error("--cpus: CPU %d is not available to this process",
						o->cpu[i]);
}

/* ------------------------------------------------------------ helpers */

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		cli_die(EX_FAIL, "cannot pin to CPU %d: %s", cpu, strerror(errno));
}

static int
read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);
		if (r < 0 && errno == EINTR && !cli_signal)
			continue;
		if (r <= 0)
			return got ? -1 : 0;
		got += (size_t)r;
	}
	return 1;
}

static int
write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;
	while (put < len) {
		ssize_t w = write(fd, (const char *)buf + put, len - put);
		if (w < 0 && errno == EINTR && !cli_signal)
			continue;
		if (w <= 0)
			return -1;
		put += (size_t)w;
	}
	return 0;
}

static int
futex_wait(_Atomic uint32_t *a, uint32_t v)
{
	return (int)syscall(SYS_futex, (uint32_t *)a, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void
futex_wake(_Atomic uint32_t *a)
{
	syscall(SYS_futex, (uint32_t *)a, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* --------------------------------------------------------- transports */

/* Two one-way links: dir 0 from A (the parent) to B (the child), dir 1
 * back. Each process opens its side after the fork. */
struct link {
	const struct transport *tr;
	const struct opts *o;
	size_t size;
	bool is_a;
	int pfd[2][2]; /* pipe: per direction, [0] read end [1] write end */
	int sv[2];     /* unix socketpair: A uses sv[0], B sv[1] */
	mqd_t mq[2];
	_Atomic uint32_t *fx;     /* futex: shared page, words 0 and 1 */
	uint32_t fx_sent, fx_got; /* futex: counts this side stored, and saw */
	eshm_t *h;
	bool fan_in;      /* several writers, one reader (run_fan_in) */
	bool fan_out;     /* one writer, several readers (run_fan_out) */
	char group[16];   /* eshm: a fan-out reader's consumer group */
	char segment[64]; /* eshm: removed by the parent whatever happens */
	char why[160];    /* why prepare skipped this size */
};

/* One transport: whole messages of l->size bytes, both ways. Adding a
 * transport is writing its hooks and listing its entry in transports[]. */
struct transport {
	const char *name;
	bool compare;      /* measured with --compare only */
	bool latency_only; /* moves no data, so has no throughput */
	bool baseline;     /* what VS PIPE sets the others against */
	/* with several writers: why it cannot take them (NULL: it can), and
	 * whether each writer's end comes to the reader on its own */
	const char *(*fan_in)(const struct link *l);
	bool end_per_writer;
	/* Before the fork: NULL, or why this size is skipped. *serial numbers
	 * the names of segments and queues, so that each run has its own. */
	const char *(*prepare)(struct link *l, int *serial);
	/* After the fork, in each process: keep this side; NULL if nothing to do. */
	int (*open)(struct link *l);
	/* 0, or <0 failure */
	int (*send)(struct link *l, const void *buf);
	/* 1: a message; 0: end of stream; <0: failure */
	int (*recv)(struct link *l, void *buf);
	/* End of this side's sending direction. */
	void (*end)(struct link *l);
	/* At the end, in each process: release what prepare and open made;
	 * harmless when called again. */
	void (*close)(struct link *l);
	/* FUTEX/MSG: futex calls on channel m2s so far; NULL if not counted. */
	int (*futex_calls)(struct link *l, uint64_t *calls);
};

static int
dir_out(const struct link *l)
{
	return l->is_a ? 0 : 1;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static const char *
eshm_prepare(struct link *l, int *serial)
{
	if (l->size + 16 > l->o->capacity)
		return "skipped: message larger than the ring (--capacity)";
	snprintf(l->segment, sizeof l->segment, "eshm-bench-%d-%d", (int)getpid(), ++*serial);
	return NULL;
}

static int
eshm_open_side(struct link *l)
{
	struct eshm_config c;
	struct eshm_error err;
	eshm_config_init(&c);
	c.role = l->is_a ? ESHM_ROLE_MASTER : ESHM_ROLE_SLAVE;
	if (l->fan_in || l->fan_out) { /* writers write, readers read */
		c.ends = l->is_a ? ESHM_END_WRITE : ESHM_END_READ;
		if (l->fan_out && l->group[0])
			c.consumer_group = l->group;
	} else { /* one each way, as role auto (and format 1) hold them */
		c.flags |= ESHM_EXCLUSIVE;
	}
	c.capacity = l->o->capacity;
	c.spin_us = l->o->spin_us;
	c.interrupt = &cli_signal;
	int r = eshm_open(l->segment, &c, &l->h, &err);
	if (r)
		cli_warn("%s: %s", l->segment, cli_err_text(&err, r));
	return r;
}

static int
eshm_send(struct link *l, const void *buf)
{
	return eshm_write(l->h, buf, l->size, -1);
}

static int
eshm_recv(struct link *l, void *buf)
{
	ssize_t r = eshm_read(l->h, buf, l->size, -1);
	return r == ESHM_EOF ? 0 : r < 0 ? -1 : 1;
}

static void
eshm_end(struct link *l)
{
	eshm_eos(l->h);
}

static void
eshm_close_side(struct link *l)
{
	if (l->h)
		eshm_close(l->h);
	l->h = NULL;
}

static int
eshm_futex_calls(struct link *l, uint64_t *calls)
{
	struct eshm_info info;
	if (!l->h || eshm_stats(l->h, &info))
		return -1;
	const struct eshm_channel_info *c = &info.chan[0];
	*calls = c->wakes + c->waits_full + c->waits_empty;
	return 0;
}

static const char *
fan_in_yes(const struct link *l)
{
	(void)l;
	return NULL;
}

static const char *
pipe_fan_in(const struct link *l)
{
	return l->size > PIPE_BUF ? "skipped: with several writers, writes over PIPE_BUF bytes "
				    "are not kept whole"
				  : NULL;
}

static const struct transport eshm_transport = {
	.name = "eshm",
	.fan_in = fan_in_yes,
	.prepare = eshm_prepare,
	.open = eshm_open_side,
	.send = eshm_send,
	.recv = eshm_recv,
	.end = eshm_end,
	.close = eshm_close_side,
	.futex_calls = eshm_futex_calls,
};

static void
pipe_close(struct link *l)
{
	for (int d = 0; d < 2; d++)
		for (int e = 0; e < 2; e++)
			close_fd(&l->pfd[d][e]);
}

static const char *
pipe_prepare(struct link *l, int *serial)
{
	(void)serial;
	if (pipe(l->pfd[0]) == 0 && pipe(l->pfd[1]) == 0)
		return NULL;
	snprintf(l->why, sizeof l->why, "%s", strerror(errno));
	pipe_close(l);
	return l->why;
}

static int
pipe_open(struct link *l)
{
	/* A writes dir 0 and reads dir 1; B the other way */
	close_fd(&l->pfd[0][l->is_a ? 0 : 1]);
	close_fd(&l->pfd[1][l->is_a ? 1 : 0]);
	return 0;
}

static int
pipe_send(struct link *l, const void *buf)
{
	return write_full(l->pfd[dir_out(l)][1], buf, l->size);
}

static int
pipe_recv(struct link *l, void *buf)
{
	return read_full(l->pfd[!dir_out(l)][0], buf, l->size);
}

static void
pipe_end(struct link *l)
{
	close_fd(&l->pfd[dir_out(l)][1]);
}

static const struct transport pipe_transport = {
	.name = "pipe",
	.compare = true,
	.fan_in = pipe_fan_in,
	.baseline = true,
	.prepare = pipe_prepare,
	.open = pipe_open,
	.send = pipe_send,
	.recv = pipe_recv,
	.end = pipe_end,
	.close = pipe_close,
};

static const char *
unix_prepare(struct link *l, int *serial)
{
	(void)serial;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, l->sv) == 0)
		return NULL;
	snprintf(l->why, sizeof l->why, "%s", strerror(errno));
	return l->why;
}

static int
unix_open(struct link *l)
{
	close_fd(&l->sv[l->is_a ? 1 : 0]);
	return 0;
}

static int
unix_send(struct link *l, const void *buf)
{
	return write_full(l->sv[dir_out(l)], buf, l->size);
}

static int
unix_recv(struct link *l, void *buf)
{
	return read_full(l->sv[dir_out(l)], buf, l->size);
}

static void
unix_end(struct link *l)
{
	shutdown(l->sv[dir_out(l)], SHUT_WR);
}

static void
unix_close(struct link *l)
{
	close_fd(&l->sv[0]);
	close_fd(&l->sv[1]);
}

static const char *
unix_fan_in(const struct link *l)
{
	(void)l;
	return "skipped: a stream socket does not keep messages apart for several writers or "
	       "readers";
}

static const struct transport unix_transport = {
	.name = "unix",
	.compare = true,
	.fan_in = unix_fan_in,
	.prepare = unix_prepare,
	.open = unix_open,
	.send = unix_send,
	.recv = unix_recv,
	.end = unix_end,
	.close = unix_close,
};

static const char *
mq_prepare(struct link *l, int *serial)
{
	for (int d = 0; d < 2; d++) {
		char name[64];
		struct mq_attr a = {.mq_maxmsg = 10, .mq_msgsize = (long)l->size};
		snprintf(name, sizeof name, "/eshm-bench-%d-%d-%d", (int)getpid(), ++*serial, d);
		l->mq[d] = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
		if (l->mq[d] == (mqd_t)-1) {
			int e = errno;
			long max = 0;
			FILE *f = fopen("/proc/sys/fs/mqueue/msgsize_max", "re");
			if (f) {
				if (fscanf(f, "%ld", &max) != 1)
					max = 0;
				fclose(f);
			}
			if (d == 1) {
				mq_close(l->mq[0]);
				l->mq[0] = (mqd_t)-1;
			}
			if (e == EINVAL && max && (long)l->size > max)
				snprintf(l->why, sizeof l->why,
					 "skipped: %zu-byte messages exceed "
					 "/proc/sys/fs/mqueue/msgsize_max (%ld)",
					 l->size, max);
			else
				snprintf(l->why, sizeof l->why, "skipped: mq_open: %s",
					 strerror(e));
			return l->why;
		}
		/* gone from the namespace at once: nothing to clean up */
		mq_unlink(name);
	}
	return NULL;
}

static int
mq_send_msg(struct link *l, const void *buf)
{
	while (mq_send(l->mq[dir_out(l)], buf, l->size, 0) < 0)
		if (errno != EINTR || cli_signal)
			return -1;
	return 0;
}

static int
mq_recv_msg(struct link *l, void *buf)
{
	ssize_t r;
	while ((r = mq_receive(l->mq[!dir_out(l)], buf, l->size, NULL)) < 0)
		if (errno != EINTR || cli_signal)
			return -1;
	return r == 0 ? 0 : 1; /* a zero-length message ends the stream */
}

static void
mq_end(struct link *l)
{
	mq_send(l->mq[dir_out(l)], "", 0, 0);
}

static void
mq_close_both(struct link *l)
{
	for (int d = 0; d < 2; d++) {
		if (l->mq[d] != (mqd_t)-1)
			mq_close(l->mq[d]);
		l->mq[d] = (mqd_t)-1;
	}
}

static const struct transport mq_transport = {
	.name = "mq",
	.compare = true,
	.fan_in = fan_in_yes,
	.end_per_writer = true,
	.prepare = mq_prepare,
	.send = mq_send_msg,
	.recv = mq_recv_msg,
	.end = mq_end,
	.close = mq_close_both,
};

/* A bare futex ping-pong, the floor of sleeping handoffs: no data moves,
 * each side stores a counter in its word and wakes the other. */
static const char *
futex_prepare(struct link *l, int *serial)
{
	(void)serial;
	l->fx = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l->fx != MAP_FAILED)
		return NULL;
	l->fx = NULL;
	snprintf(l->why, sizeof l->why, "%s", strerror(errno));
	return l->why;
}

static void
futex_store(struct link *l, uint32_t v)
{
	_Atomic uint32_t *w = &l->fx[dir_out(l)];
	atomic_store(w, v);
	futex_wake(w);
}

static int
futex_send(struct link *l, const void *buf)
{
	(void)buf;
	futex_store(l, ++l->fx_sent);
	return 0;
}

static int
futex_recv(struct link *l, void *buf)
{
	(void)buf;
	_Atomic uint32_t *w = &l->fx[!dir_out(l)];
	uint32_t v;
	while ((v = atomic_load(w)) <= l->fx_got)
		futex_wait(w, v);
	if (v == UINT32_MAX)
		return 0;
	l->fx_got++;
	return 1;
}

static void
futex_end(struct link *l)
{
	futex_store(l, UINT32_MAX);
}

static void
futex_close(struct link *l)
{
	if (l->fx)
		munmap((void *)l->fx, 4096);
	l->fx = NULL;
}

static const struct transport futex_transport = {
	.name = "futex",
	.compare = true,
	.latency_only = true,
	.prepare = futex_prepare,
	.send = futex_send,
	.recv = futex_recv,
	.end = futex_end,
	.close = futex_close,
};

/* In the order of the table and of each round of runs. */
static const struct transport *const transports[] = {
	&eshm_transport, &pipe_transport, &unix_transport, &mq_transport, &futex_transport,
};
enum { NT = sizeof transports / sizeof transports[0] };

static void
link_init(struct link *l, const struct transport *tr, size_t size, const struct opts *o)
{
	*l = (struct link){
		.tr = tr,
		.o = o,
		.size = size,
		.pfd = {{-1, -1}, {-1, -1}},
		.sv = {-1, -1},
		.mq = {(mqd_t)-1, (mqd_t)-1},
	};
}

/* After the fork: keep this side's ends, open the segment. */
static int
link_open(struct link *l, bool is_a)
{
	l->is_a = is_a;
	return l->tr->open ? l->tr->open(l) : 0;
}

/* ------------------------------------------------------------- results */

struct result {
	const struct transport *tr;
	enum ckind c;
	size_t size;
	char skipped[160]; /* why the transport skipped this size, or "" */
	double msgs_per_s, bytes_per_s;
	double futex_per_msg;        /* eshm only: futex calls per message */
	int64_t p50, p99, p999, max; /* ns */
	double cpu_pct;              /* idle */
	int runs;
};

/* The runs of one transport at one case and size, for the medians. */
struct runs {
	int n; /* that succeeded */
	double rate[MAX_REPEAT], futex[MAX_REPEAT];
	int64_t lat[4][MAX_REPEAT]; /* p50, p99, p99.9, max */
	char skipped[160];
};

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* What a child reports to the parent through a pipe. */
struct report {
	int ok;
	uint64_t msgs;
	int64_t first_ns, last_ns;
	int group; /* a fan-out reader's consumer group */
};

/* Ends the run: the child's status, and the segment (if any) removed in
 * any case. */
static int
reap(pid_t pid, bool kill_it, const char *segment)
{
	int st = 0;
	if (kill_it)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (segment[0]) {
		/* normally already gone; after a failure, make sure */
		eshm_unlink(segment, ESHM_UNLINK_PENDING | ESHM_UNLINK_INVALID | ESHM_UNLINK_KEPT,
			    0, NULL, NULL);
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Throughput: A sends as many messages as it can for the duration, then
 * ends the stream; B counts them and reports. Rate is B's count over the
 * time from A's start to B's end of stream. */
static int
run_throughput(const struct opts *o, struct link *l, struct result *res)
{
	const struct transport *tr = l->tr;
	int rp[2];
	if (pipe(rp))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	unsigned char *buf = malloc(l->size);
	if (!buf)
		_exit(1);
	memset(buf, 0x5a, l->size);
	if (pid == 0) {
		close(rp[0]);
		pin(o->cpu[1]);
		struct report rep = {0};
		if (link_open(l, false) == 0) {
			int r;
			while ((r = tr->recv(l, buf)) == 1)
				rep.msgs++;
			rep.last_ns = now_ns();
			rep.ok = r == 0;
			tr->close(l);
		}
		if (write(rp[1], &rep, sizeof rep) != sizeof rep)
			_exit(1);
		_exit(rep.ok ? 0 : 1);
	}
	close(rp[1]);
	pin(o->cpu[0]);
	int rc = link_open(l, true);
	int64_t start = now_ns(), end = start + o->duration_ms * 1000000;
	uint64_t sent = 0;
	/* look at the clock every 256 messages or 16 MiB, whichever is less */
	size_t batch = (16u << 20) / l->size;
	batch = batch < 1 ? 1 : batch > 256 ? 256 : batch;
	/* A hook call per message costs nothing measurable (loops of eshm's
	 * own, with no call per message, did no better), but the 64-byte rate
	 * moves with a few ns of per-message work on either side, both ways:
	 * on the 2-core VM, 39M msgs/s with these hooks, 50M with the switch
	 * they replaced, 57M with a short delay loop added to both. That is
	 * the ring's adaptive polling, not the cost of the harness. */
	while (!rc && !cli_signal) {
		for (size_t i = 0; i < batch && !rc; i++, sent++)
			rc = tr->send(l, buf);
		if (now_ns() >= end)
			break;
	}
	if (!rc)
		tr->end(l);
	struct report rep = {0};
	/* cut short: the child may wait for messages that will never come */
	bool got = !rc && !cli_signal && read_full(rp[0], &rep, sizeof rep) == 1;
	close(rp[0]);
	uint64_t calls;
	if (tr->futex_calls && rep.msgs && tr->futex_calls(l, &calls) == 0)
		res->futex_per_msg = (double)calls / (double)rep.msgs;
	tr->close(l);
	int child = reap(pid, !got, l->segment);
	free(buf);
	if (rc || !got || !rep.ok || child || rep.msgs != sent)
		return -1;
	double secs = (double)(rep.last_ns - start) / 1e9;
	res->msgs_per_s = (double)rep.msgs / secs;
	res->bytes_per_s = res->msgs_per_s * (double)l->size;
	return 0;
}

/* Fan-in throughput: o->writers processes (A sides) send as many messages
 * as they can for the duration, then end; the parent (the B side) reads
 * until every writer ended. Rate: all messages over the time from the
 * first writer's start to the reader's end. Each writer reports what it
 * sent through a pipe; the reader must have got exactly their sum. */
static int
run_fan_in(const struct opts *o, struct link *l, struct result *res)
{
	const struct transport *tr = l->tr;
	int nw = o->writers, rp[2];
	l->fan_in = true;
	pid_t pids[ESHM_MAX_WRITERS];
	if (pipe(rp))
		return -1;
	unsigned char *buf = malloc(l->size);
	if (!buf)
		return -1;
	memset(buf, 0x5a, l->size);
	int64_t start = now_ns();
	int started = 0;
	for (; started < nw; started++) {
		pid_t pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			close(rp[0]);
			pin(o->cpu[0]);
			struct report rep = {0};
			if (link_open(l, true) == 0) {
				int64_t end = now_ns() + o->duration_ms * 1000000;
				int rc = 0;
				while (!rc && !cli_signal && now_ns() < end)
					for (int i = 0; i < 64 && !rc; i++, rep.msgs++)
						rc = tr->send(l, buf);
				if (!rc)
					tr->end(l);
				rep.ok = !rc;
				tr->close(l);
			}
			if (write(rp[1], &rep, sizeof rep) != sizeof rep)
				_exit(1);
			_exit(rep.ok ? 0 : 1);
		}
		pids[started] = pid;
	}
	close(rp[1]);
	pin(o->cpu[1]);
	int rc = started == nw ? link_open(l, false) : -1;
	uint64_t got = 0;
	int ends = 0, r = 0;
	while (!rc && !cli_signal) {
		r = tr->recv(l, buf);
		if (r == 1) {
			got++;
		} else if (r == 0 && tr->end_per_writer && ++ends < nw) {
			continue;
		} else {
			break;
		}
	}
	int64_t last = now_ns();
	uint64_t calls;
	if (tr->futex_calls && got && tr->futex_calls(l, &calls) == 0)
		res->futex_per_msg = (double)calls / (double)got;
	tr->close(l);
	uint64_t sent = 0;
	bool ok = !rc && r == 0 && !cli_signal;
	for (int i = 0; i < started; i++) {
		struct report rep = {0};
		if (read_full(rp[0], &rep, sizeof rep) != 1 || !rep.ok)
			ok = false;
		sent += rep.msgs;
	}
	close(rp[0]);
	for (int i = 0; i < started; i++)
		if (reap(pids[i], !ok, l->segment))
			ok = false;
	free(buf);
	if (!ok || got != sent)
		return -1;
	res->msgs_per_s = (double)got / ((double)(last - start) / 1e9);
	res->bytes_per_s = res->msgs_per_s * (double)l->size;
	return 0;
}

/* Fan-out throughput: the parent (the A side) sends as many messages as
 * it can for the duration, then ends; o->readers processes (B sides), in
 * o->groups consumer groups, read until the end. Each reader reports what
 * it got through a pipe; each group must have got exactly what was sent.
 * Rate: the messages sent over the time from the start to the last
 * reader's end; with several groups, each group's rate. */
static int
run_fan_out(const struct opts *o, struct link *l, struct result *res)
{
	const struct transport *tr = l->tr;
	int nr = o->readers, rp[2];
	l->fan_out = true;
	pid_t pids[ESHM_MAX_READERS];
	if (pipe(rp))
		return -1;
	unsigned char *buf = malloc(l->size);
	if (!buf) {
		close(rp[0]);
		close(rp[1]);
		return -1;
	}
	memset(buf, 0x5a, l->size);
	/* the readers attach first, so that each group gets everything */
	int ready[2];
	if (pipe(ready)) {
		close(rp[0]);
		close(rp[1]);
		free(buf);
		return -1;
	}
	int started = 0;
	for (; started < nr; started++) {
		pid_t pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			close(rp[0]);
			close(ready[0]);
			pin(o->cpu[1]);
			struct report rep = {.group = started % o->groups};
			snprintf(l->group, sizeof l->group, "g%d", rep.group);
			int rc = link_open(l, false);
			char one = 1;
			if (write(ready[1], &one, 1) != 1)
				_exit(1);
			close(ready[1]);
			int r = -1;
			while (!rc && !cli_signal && (r = tr->recv(l, buf)) == 1)
				rep.msgs++;
			rep.last_ns = now_ns();
			rep.ok = !rc && r == 0;
			tr->close(l);
			if (write(rp[1], &rep, sizeof rep) != sizeof rep)
				_exit(1);
			_exit(rep.ok ? 0 : 1);
		}
		pids[started] = pid;
	}
	close(rp[1]);
	close(ready[1]);
	for (int i = 0; i < started; i++) {
		char one;
		if (read(ready[0], &one, 1) != 1)
			break;
	}
	close(ready[0]);
	pin(o->cpu[0]);
	int rc = started == nr ? link_open(l, true) : -1;
	int64_t start = now_ns(), end = start + o->duration_ms * 1000000;
	uint64_t sent = 0;
	while (!rc && !cli_signal && now_ns() < end)
		for (int i = 0; i < 64 && !rc; i++, sent++)
			rc = tr->send(l, buf);
	/* one end for all, or one each where a reader takes it away */
	for (int i = 0; i < (tr->end_per_writer ? nr : 1) && !rc; i++)
		tr->end(l);
	uint64_t calls;
	bool ok = !rc && !cli_signal;
	if (ok && tr->futex_calls && sent && tr->futex_calls(l, &calls) == 0)
		res->futex_per_msg = (double)calls / (double)sent;
	tr->close(l);
	uint64_t got[ESHM_MAX_GROUPS] = {0};
	int64_t last = start;
	for (int i = 0; i < started; i++) {
		struct report rep = {0};
		if (read_full(rp[0], &rep, sizeof rep) != 1 || !rep.ok || rep.group < 0 ||
		    rep.group >= o->groups) {
			ok = false;
			continue;
		}
		got[rep.group] += rep.msgs;
		if (rep.last_ns > last)
			last = rep.last_ns;
	}
	close(rp[0]);
	for (int i = 0; i < started; i++)
		if (reap(pids[i], !ok, l->segment))
			ok = false;
	free(buf);
	for (int g = 0; g < o->groups; g++)
		if (got[g] != sent)
			ok = false;
	if (!ok)
		return -1;
	res->msgs_per_s = (double)sent / ((double)(last - start) / 1e9);
	res->bytes_per_s = res->msgs_per_s * (double)l->size;
	return 0;
}

/* Latency: A sends, B echoes; A times each round trip. */
static int
run_latency(const struct opts *o, struct link *l, struct result *res, int64_t **rtts, size_t *nrtt)
{
	const struct transport *tr = l->tr;
	int rp[2];
	if (pipe(rp))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	unsigned char *buf = calloc(1, l->size);
	if (!buf)
		_exit(1);
	if (pid == 0) {
		close(rp[0]);
		pin(o->cpu[1]);
		int ok = 0;
		if (link_open(l, false) == 0) {
			int r;
			while ((r = tr->recv(l, buf)) == 1)
				if (tr->send(l, buf))
					break;
			ok = r == 0;
			tr->end(l);
			tr->close(l);
		}
		if (write(rp[1], &ok, sizeof ok) != sizeof ok)
			_exit(1);
		_exit(ok ? 0 : 1);
	}
	close(rp[1]);
	pin(o->cpu[0]);
	int rc = link_open(l, true);
	int64_t start = now_ns(), end = start + o->duration_ms * 1000000;
	size_t n = 0;
	while (!rc && !cli_signal) {
		if (n == *nrtt) {
			size_t cap = *nrtt ? *nrtt * 2 : 65536;
			int64_t *nv = realloc(*rtts, cap * sizeof *nv);
			if (!nv) {
				rc = -1;
				break;
			}
			*rtts = nv;
			*nrtt = cap;
		}
		int64_t t0 = now_ns();
		rc = tr->send(l, buf);
		if (!rc && tr->recv(l, buf) != 1)
			rc = -1;
		int64_t t1 = now_ns();
		(*rtts)[n++] = t1 - t0;
		if (t1 >= end)
			break;
	}
	double elapsed = (double)(now_ns() - start) / 1e9;
	if (!rc) {
		tr->end(l);
		/* drain the child's end of stream */
		while (tr->recv(l, buf) == 1)
			;
	}
	int ok = 0;
	bool got = !rc && !cli_signal && read_full(rp[0], &ok, sizeof ok) == 1;
	close(rp[0]);
	tr->close(l);
	int child = reap(pid, !got, l->segment);
	free(buf);
	if (rc || !got || !ok || child || n == 0)
		return -1;
	qsort(*rtts, n, sizeof **rtts, cmp_i64);
	res->p50 = (*rtts)[n / 2];
	res->p99 = (*rtts)[(size_t)((double)n * 0.99)];
	res->p999 = (*rtts)[(size_t)((double)n * 0.999)];
	res->max = (*rtts)[n - 1];
	res->msgs_per_s = (double)n / elapsed;
	return 0;
}

/* Idle: a holder that only heartbeats, over the duration; CPU time of the
 * whole process (heartbeat thread included) as a share of one core. */
static int
run_idle(const struct opts *o, int *serial, struct result *res)
{
	struct link l;
	link_init(&l, &eshm_transport, 64, o);
	eshm_transport.prepare(&l, serial);
	pin(o->cpu[0]);
	if (link_open(&l, true))
		return -1;
	struct rusage a, b;
	getrusage(RUSAGE_SELF, &a);
	int64_t t0 = now_ns();
	struct timespec ts = {(time_t)(o->idle_ms / 1000), (long)(o->idle_ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !cli_signal)
		;
	getrusage(RUSAGE_SELF, &b);
	int64_t t1 = now_ns();
	eshm_transport.close(&l);
	eshm_unlink(l.segment, ESHM_UNLINK_PENDING | ESHM_UNLINK_KEPT, 0, NULL, NULL);
	double cpu = (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec + b.ru_stime.tv_sec -
			      a.ru_stime.tv_sec) +
		     (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec + b.ru_stime.tv_usec -
			      a.ru_stime.tv_usec) /
			     1e6;
	res->cpu_pct = 100.0 * cpu / ((double)(t1 - t0) / 1e9);
	return cli_signal ? -1 : 0;
}

/* ------------------------------------------------------------- output */

static void
human_rate(double v, char *buf, size_t len)
{
	if (v >= 1e9)
		snprintf(buf, len, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
}

static void
human_ns(int64_t ns, char *buf, size_t len)
{
	if (ns >= 1000000)
		snprintf(buf, len, "%.2fms", (double)ns / 1e6);
	else if (ns >= 1000)
		snprintf(buf, len, "%.2fus", (double)ns / 1e3);
	else
		snprintf(buf, len, "%lldns", (long long)ns);
}

static void
size_label(size_t s, char *buf, size_t len)
{
	if (s >= 1024 * 1024 && s % (1024 * 1024) == 0)
		snprintf(buf, len, "%zuM", s >> 20);
	else if (s >= 1024 && s % 1024 == 0)
		snprintf(buf, len, "%zuK", s >> 10);
	else
		snprintf(buf, len, "%zu", s);
}

static const struct result *
find_baseline(const struct result *v, int n, enum ckind c, size_t size)
{
	for (int i = 0; i < n; i++)
		if (v[i].c == c && v[i].size == size && v[i].tr->baseline && !v[i].skipped[0])
			return &v[i];
	return NULL;
}

static void
print_table(const struct opts *o, const struct result *v, int n)
{
	bool thr = false, lat = false;
	for (int i = 0; i < n; i++) {
		thr |= v[i].c == C_THROUGHPUT;
		lat |= v[i].c == C_LATENCY;
	}
	if (thr || lat)
		printf("eshm-bench: median of %d run%s of %g s each%s%s\n", o->repeat,
		       o->repeat == 1 ? "" : "s", (double)o->duration_ms / 1000,
		       o->cpu[0] >= 0 ? ", pinned" : "",
		       o->compare ? ", same run, interleaved" : "");
	if (thr) {
		printf("\n%-10s %6s %12s %12s %9s %12s\n", "THROUGHPUT", "SIZE", "MSGS/S",
		       "BYTES/S", "VS PIPE", "FUTEX/MSG");
		for (int i = 0; i < n; i++) {
			const struct result *r = &v[i];
			if (r->c != C_THROUGHPUT)
				continue;
			char sz[32], m[32], b[32], ratio[32] = "", fx[32] = "";
			size_label(r->size, sz, sizeof sz);
			if (r->skipped[0]) {
				printf("%-10s %6s %s\n", r->tr->name, sz, r->skipped);
				continue;
			}
			human_rate(r->msgs_per_s, m, sizeof m);
			human_rate(r->bytes_per_s, b, sizeof b);
			const struct result *p = find_baseline(v, n, C_THROUGHPUT, r->size);
			if (p && p->msgs_per_s > 0)
				snprintf(ratio, sizeof ratio, "%.1fx",
					 r->msgs_per_s / p->msgs_per_s);
			if (r->tr->futex_calls)
				snprintf(fx, sizeof fx, "%.5f", r->futex_per_msg);
			printf("%-10s %6s %12s %11sB %9s %12s\n", r->tr->name, sz, m, b, ratio, fx);
		}
	}
	if (lat) {
		printf("\n%-10s %6s %10s %10s %10s %10s %9s\n", "LATENCY", "SIZE", "RTT P50", "P99",
		       "P99.9", "MAX", "VS PIPE");
		for (int i = 0; i < n; i++) {
			const struct result *r = &v[i];
			if (r->c != C_LATENCY)
				continue;
			char sz[32], a[32], b[32], c[32], d[32], ratio[32] = "";
			size_label(r->size, sz, sizeof sz);
			if (r->skipped[0]) {
				printf("%-10s %6s %s\n", r->tr->name, sz, r->skipped);
				continue;
			}
			human_ns(r->p50, a, sizeof a);
			human_ns(r->p99, b, sizeof b);
			human_ns(r->p999, c, sizeof c);
			human_ns(r->max, d, sizeof d);
			const struct result *p = find_baseline(v, n, C_LATENCY, r->size);
			if (p && p->p50 > 0)
				snprintf(ratio, sizeof ratio, "%.2fx",
					 (double)r->p50 / (double)p->p50);
			printf("%-10s %6s %10s %10s %10s %10s %9s\n", r->tr->name, sz, a, b, c, d,
			       ratio);
		}
	}
	for (int i = 0; i < n; i++)
		if (v[i].c == C_IDLE)
			printf("%sIDLE: a holder that only heartbeats used %.3f%% of a core over "
			       "%g s\n",
			       thr || lat ? "\n" : "", v[i].cpu_pct, (double)o->idle_ms / 1000);
	if ((thr || lat) && o->compare)
		printf("\nVS PIPE: messages per second against the pipe's; for latency, the\n"
		       "median round trip against the pipe's (lower is better).\n");
}

static void
print_json(const struct opts *o, const struct result *v, int n)
{
	printf("{\"version\": 1, \"repeat\": %d, \"duration_ms\": %lld, \"idle_ms\": %lld, "
	       "\"cpus\": ",
	       o->repeat, (long long)o->duration_ms, (long long)o->idle_ms);
	if (o->cpu[0] >= 0)
		printf("[%d, %d]", o->cpu[0], o->cpu[1]);
	else
		printf("null");
	printf(", \"results\": [");
	for (int i = 0; i < n; i++) {
		const struct result *r = &v[i];
		printf("%s{\"transport\": \"%s\", \"case\": \"%s\", \"size\": %zu", i ? ", " : "",
		       r->tr->name, cnames[r->c], r->size);
		/* the topology: throughput's as asked, latency's one each way */
		printf(", \"writers\": %d, \"readers\": %d, \"groups\": %d",
		       r->c == C_THROUGHPUT ? o->writers : 1, r->c == C_THROUGHPUT ? o->readers : 1,
		       r->c == C_THROUGHPUT ? o->groups : 1);
		if (r->skipped[0]) {
			printf(", \"skipped\": \"%s\"}", r->skipped);
			continue;
		}
		if (r->c == C_THROUGHPUT) {
			printf(", \"msgs_per_s\": %.0f, \"bytes_per_s\": %.0f", r->msgs_per_s,
			       r->bytes_per_s);
			if (r->tr->futex_calls)
				printf(", \"futex_calls_per_msg\": %.6f", r->futex_per_msg);
		} else if (r->c == C_LATENCY) {
			printf(", \"rtt_p50_ns\": %lld, \"rtt_p99_ns\": %lld, \"rtt_p999_ns\": "
			       "%lld, "
			       "\"rtt_max_ns\": %lld, \"round_trips_per_s\": %.0f",
			       (long long)r->p50, (long long)r->p99, (long long)r->p999,
			       (long long)r->max, r->msgs_per_s);
		} else {
			printf(", \"cpu_percent\": %.4f", r->cpu_pct);
		}
		printf(", \"runs\": %d}", r->runs);
	}
	printf("]}\n");
}

/* ---------------------------------------------------------------- plan */

#define MAX_RESULTS 256

/* The benchmark: the options, the results so far, and what the runs share. */
struct bench {
	struct opts o;
	int serial;      /* see struct transport's prepare */
	bool tty;        /* progress on stderr */
	int done, total; /* runs started and planned, for the progress */
	int failures;
	int64_t *rtts; /* latency: the round trips of a run, reused */
	size_t nrtt;
	struct result res[MAX_RESULTS];
	int nres;
};

/* Whether tr is measured in case c. */
static bool
takes_part(const struct transport *tr, const struct opts *o, enum ckind c)
{
	return (!tr->compare || o->compare) && (!tr->latency_only || c == C_LATENCY);
}

static void
progress(struct bench *b, enum ckind c, size_t size, const struct transport *tr)
{
	int done = b->done++;
	if (!b->tty)
		return;
	char sz[32];
	size_label(size, sz, sizeof sz);
	fprintf(stderr, "\r\033[K%s: [%d/%d] %s %s %s", cli_prog, done + 1, b->total, cnames[c], sz,
		tr->name);
	fflush(stderr);
}

/* One run of tr: its values go to rs, or why it skips this size. */
static void
run_one(struct bench *b, enum ckind c, const struct transport *tr, size_t size, struct runs *rs)
{
	progress(b, c, size, tr);
	if (rs->skipped[0])
		return;
	struct link l;
	link_init(&l, tr, size, &b->o);
	const char *why = tr->prepare(&l, &b->serial);
	if (why) {
		snprintf(rs->skipped, sizeof rs->skipped, "%s", why);
		return;
	}
	if (c == C_THROUGHPUT && b->o.writers > 1 &&
	    (why = tr->fan_in ? tr->fan_in(&l) : "skipped: takes one writer")) {
		snprintf(rs->skipped, sizeof rs->skipped, "%s", why);
		tr->close(&l);
		return;
	}
	/* several readers: those that keep several writers' messages apart
	 * keep them apart for several readers too */
	if (c == C_THROUGHPUT && b->o.readers > 1 && !tr->fan_in)
		why = "skipped: takes one reader";
	else if (c == C_THROUGHPUT && b->o.readers > 1)
		why = tr->fan_in(&l);
	if (!why && c == C_THROUGHPUT && b->o.groups > 1 && tr != &eshm_transport)
		why = "skipped: gives each message to one reader: no consumer groups";
	if (why) {
		snprintf(rs->skipped, sizeof rs->skipped, "%s", why);
		tr->close(&l);
		return;
	}
	struct result r = {0};
	int rc = c == C_THROUGHPUT ? (b->o.writers > 1   ? run_fan_in(&b->o, &l, &r)
				      : b->o.readers > 1 ? run_fan_out(&b->o, &l, &r)
							 : run_throughput(&b->o, &l, &r))
				   : run_latency(&b->o, &l, &r, &b->rtts, &b->nrtt);
	/* what the run left open, as when the fork failed */
	tr->close(&l);
	if (rc) {
		if (!cli_signal) {
			cli_warn("%s %s %zu bytes: run failed", cnames[c], tr->name, size);
			b->failures++;
		}
		return;
	}
	int i = rs->n++;
	rs->rate[i] = r.msgs_per_s;
	rs->futex[i] = r.futex_per_msg;
	rs->lat[0][i] = r.p50;
	rs->lat[1][i] = r.p99;
	rs->lat[2][i] = r.p999;
	rs->lat[3][i] = r.max;
}

/* tr's result at this case and size: the medians of its runs, or why it
 * skipped; none if no run succeeded. */
static void
add_result(struct bench *b, enum ckind c, const struct transport *tr, size_t size, struct runs *rs)
{
	if (b->nres == MAX_RESULTS || (!rs->skipped[0] && !rs->n))
		return;
	struct result *r = &b->res[b->nres++];
	memset(r, 0, sizeof *r);
	r->tr = tr, r->c = c, r->size = size;
	if (rs->skipped[0]) {
		memcpy(r->skipped, rs->skipped, sizeof r->skipped);
		return;
	}
	size_t n = (size_t)rs->n;
	r->runs = rs->n;
	qsort(rs->rate, n, sizeof(double), cmp_dbl);
	qsort(rs->futex, n, sizeof(double), cmp_dbl);
	r->msgs_per_s = rs->rate[n / 2];
	r->bytes_per_s = r->msgs_per_s * (double)size;
	r->futex_per_msg = rs->futex[n / 2];
	for (int q = 0; q < 4; q++)
		qsort(rs->lat[q], n, sizeof(int64_t), cmp_i64);
	r->p50 = rs->lat[0][n / 2];
	r->p99 = rs->lat[1][n / 2];
	r->p999 = rs->lat[2][n / 2];
	r->max = rs->lat[3][n - 1]; /* the worst seen, not a median */
}

/* One case at one size: each round runs every transport once, so that
 * their runs interleave, A B C A B C ..., then the medians. */
static void
bench_size(struct bench *b, enum ckind c, size_t size)
{
	struct runs rs[NT];
	memset(rs, 0, sizeof rs);
	for (int rep = 0; rep < b->o.repeat && !cli_signal; rep++)
		for (int t = 0; t < NT && !cli_signal; t++)
			if (takes_part(transports[t], &b->o, c))
				run_one(b, c, transports[t], size, &rs[t]);
	for (int t = 0; t < NT; t++)
		if (takes_part(transports[t], &b->o, c))
			add_result(b, c, transports[t], size, &rs[t]);
}

static void
bench_idle(struct bench *b)
{
	if (b->nres == MAX_RESULTS)
		return;
	if (b->tty)
		fprintf(stderr, "\r\033[K%s: idle holder for %g s", cli_prog,
			(double)b->o.idle_ms / 1000);
	struct result *r = &b->res[b->nres];
	memset(r, 0, sizeof *r);
	r->tr = &eshm_transport, r->c = C_IDLE, r->runs = 1;
	if (run_idle(&b->o, &b->serial, r) == 0)
		b->nres++;
	else if (!cli_signal)
		b->failures++;
}

/* Every case, size and transport, repeated; the idle case last. Ends
 * early on a signal. */
static void
run_plan(struct bench *b)
{
	const struct opts *o = &b->o;
	for (enum ckind c = C_THROUGHPUT; c <= C_LATENCY; c++)
		for (int t = 0; t < NT; t++)
			if (o->cases[c] && takes_part(transports[t], o, c))
				b->total += o->nsizes * o->repeat;
	for (enum ckind c = C_THROUGHPUT; c <= C_LATENCY && !cli_signal; c++)
		for (int i = 0; i < o->nsizes && o->cases[c] && !cli_signal; i++)
			bench_size(b, c, o->sizes[i]);
	free(b->rtts);
	b->rtts = NULL, b->nrtt = 0;
	if (o->cases[C_IDLE] && !cli_signal)
		bench_idle(b);
	if (b->tty)
		fprintf(stderr, "\r\033[K");
}

/* ---------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	struct bench b = {0};
	cli_init("eshm-bench");
	parse(argc, argv, &b.o);
	cli_need_std(STDOUT_FILENO);
	cli_signals();
	b.tty = isatty(STDERR_FILENO);
	run_plan(&b);
	cli_reraise(cli_signal);
	if (b.o.json)
		print_json(&b.o, b.res, b.nres);
	else
		print_table(&b.o, b.res, b.nres);
	return cli_close_stdout(b.failures ? EX_FAIL : EX_OK);
}
