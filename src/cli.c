/* cli.c - the small module every eshm tool links: messages, parsers, signals, progress. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *cli_prog = "eshm";
const char *cli_segment;
bool cli_quiet;
volatile sig_atomic_t cli_signal;
volatile sig_atomic_t cli_wake;

static unsigned closed_std; /* bit n: descriptor n was closed at start */
static bool mode_given;     /* --mode was given (see cli_one_name) */

void
cli_init(const char *prog)
{
	cli_prog = prog;
	/* A standard descriptor closed by our caller (`>&-`) would be the
	 * next one anything opens: a pipe, a socket, a file. Hold each
	 * closed one with a placeholder on which reads and writes fail with
	 * EBADF (an O_PATH descriptor), lowest first so each lands on its
	 * own number, and inherited by children alike. */
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		closed_std |= 1u << fd;
		int t = open("/dev/null", O_PATH);
		if (t >= 0 && t != fd) {
			dup2(t, fd);
			close(t);
		}
	}
}

void
cli_need_std(int fd)
{
	static const char *const names[] = {"input", "output"};
	if (fd >= 0 && fd <= 1 && (closed_std & (1u << fd)))
		cli_die(EX_FAIL, "standard %s is closed", names[fd]);
}

/* One line, written whole: stderr is unbuffered, and glibc writes each
 * fprintf to such a stream at once. */
static void
vmsg(const char *stamp, const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	if (cli_segment)
		fprintf(stderr, "%s%s: %s: %s\n", stamp, cli_prog, cli_segment, buf);
	else
		fprintf(stderr, "%s%s: %s\n", stamp, cli_prog, buf);
}

void
cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void
cli_note(const char *fmt, ...)
{
	va_list ap;
	if (cli_quiet)
		return;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

/* Whether stderr is the journal. systemd names the stream it gives a
 * service in JOURNAL_STREAM, "DEVICE:INODE" (systemd.exec(5)); the
 * variable is inherited, and stderr may have been redirected since (a
 * script's 2>file), so compare it with what stderr is. */
static bool
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	struct stat st;
	char *e;
	if (!v || !(*v >= '0' && *v <= '9') || fstat(STDERR_FILENO, &st) < 0)
		return false;
	errno = 0;
	unsigned long long dev = strtoull(v, &e, 10);
	if (errno || *e != ':' || !(e[1] >= '0' && e[1] <= '9'))
		return false;
	unsigned long long ino = strtoull(e + 1, &e, 10);
	return !errno && !*e && dev == (unsigned long long)st.st_dev &&
	       ino == (unsigned long long)st.st_ino;
}

void
cli_log(const char *fmt, ...)
{
	static int journal = -1; /* stderr stays what it was */
	char stamp[64] = "";
	va_list ap;
	if (journal < 0)
		journal = stderr_is_journal();
	struct timespec ts;
	struct tm tm;
	if (!journal && clock_gettime(CLOCK_REALTIME, &ts) == 0 && localtime_r(&ts.tv_sec, &tm)) {
		char day[32], zone[16];
		strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
		strftime(zone, sizeof zone, "%z", &tm);
		snprintf(stamp, sizeof stamp, "%s.%03ld%s ", day, ts.tv_nsec / 1000000, zone);
	}
	va_start(ap, fmt);
	vmsg(stamp, fmt, ap);
	va_end(ap);
}

void
cli_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	exit(status);
}

void
cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	char buf[1024];
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", cli_prog, buf, cli_prog);
	exit(EX_USAGE);
}

void
cli_version(void)
{
	printf("%s (eshm) %s\n", cli_prog, ESHM_VERSION_STRING);
	exit(fflush(stdout) || ferror(stdout) ? EX_FAIL : EX_OK);
}

/* A non-negative decimal number with an optional fraction; returns the
 * rest of the string in *end. */
static int
parse_number(const char *s, double *v, const char **end)
{
	if (!s || !(*s >= '0' && *s <= '9'))
		return -1;
	char *e;
	errno = 0;
	*v = strtod(s, &e);
	if (errno || e == s || !isfinite(*v))
		return -1;
	/* strtod accepts hex and exponents; we do not */
	for (const char *p = s; p < e; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return -1;
	*end = e;
	return 0;
}

int
cli_parse_size(const char *s, uint64_t *out)
{
	double v;
	const char *e;
	if (parse_number(s, &v, &e))
		return -1;
	double mul = 1;
	switch (*e) {
	case 'k':
	case 'K':
		mul = 1024.0;
		e++;
		break;
	case 'm':
	case 'M':
		mul = 1024.0 * 1024;
		e++;
		break;
	case 'g':
	case 'G':
		mul = 1024.0 * 1024 * 1024;
		e++;
		break;
	case 't':
	case 'T':
		mul = 1024.0 * 1024 * 1024 * 1024;
		e++;
		break;
	}
	if (mul > 1 && (*e == 'i' && e[1] == 'B'))
		e += 2;
	else if (*e == 'B')
		e++;
	if (*e)
		return -1;
	double r = v * mul;
	if (r != floor(r) || r >= 18446744073709551615.0)
		return -1;
	*out = (uint64_t)r;
	return 0;
}

int
cli_parse_duration(const char *s, int64_t *ms)
{
	double v;
	const char *e;
	if (parse_number(s, &v, &e))
		return -1;
	double mul;
	if (!*e || !strcmp(e, "s"))
		mul = 1000;
	else if (!strcmp(e, "ms"))
		mul = 1;
	else if (!strcmp(e, "m"))
		mul = 60000;
	else if (!strcmp(e, "h"))
		mul = 3600000;
	else
		return -1;
	double r = ceil(v * mul);
	if (r > 9e15)
		return -1;
	*ms = (int64_t)r;
	return 0;
}

int
cli_parse_count(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !(*s >= '0' && *s <= '9'))
		return -1;
	char *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno || *e || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cli_parse_mode(const char *s, unsigned *out)
{
	if (!s || !*s || strlen(s) > 4)
		return -1;
	unsigned v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return -1;
		v = v * 8 + (unsigned)(*p - '0');
	}
	if (v > 0777)
		return -1;
	*out = v;
	return 0;
}

int
cli_parse_role(const char *s, int *role)
{
	if (!strcmp(s, "master"))
		*role = ESHM_ROLE_MASTER;
	else if (!strcmp(s, "slave"))
		*role = ESHM_ROLE_SLAVE;
	else
		return -1;
	return 0;
}

int
cli_parse_group(const char *s, long *gid)
{
	/* a name first, as chown(1) does: a group may be named by digits */
	struct group *gr = getgrnam(s);
	if (gr && gr->gr_gid <= INT_MAX) {
		*gid = (long)gr->gr_gid;
		return 0;
	}
	uint64_t v;
	if (gr || cli_parse_count(s, INT_MAX, &v))
		return -1;
	*gid = (long)v;
	return 0;
}

uint64_t
cli_size_arg(const char *opt, const char *s)
{
	uint64_t v;
	if (cli_parse_size(s, &v))
		cli_usage_error("invalid size for %s: '%s' (use a number with K, M or G)", opt, s);
	return v;
}

int
cli_duration_ms_arg(const char *opt, const char *s)
{
	int64_t v;
	if (cli_parse_duration(s, &v))
		cli_usage_error("invalid duration for %s: '%s' (use e.g. 500ms, 2s, 1.5m, 1h)", opt,
				s);
	return v > INT_MAX ? INT_MAX : (int)v;
}

uint64_t
cli_count_arg(const char *opt, const char *s, uint64_t max)
{
	uint64_t v;
	if (cli_parse_count(s, max, &v))
		cli_usage_error("invalid number for %s: '%s'", opt, s);
	return v;
}

static void
on_signal(int sig)
{
	cli_signal = sig;
	cli_wake = 1;
}

static void
on_child(int sig)
{
	(void)sig;
	cli_wake = 1;
}

void
cli_catch_children(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_child;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NOCLDSTOP; /* no SA_RESTART: a wait returns when a child ends */
	sigaction(SIGCHLD, &sa, NULL);
}

void
cli_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking reads and waits must return */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void
cli_reraise(int sig)
{
	if (!sig)
		return;
	fflush(stderr);
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	/* not reached for INT, TERM, HUP, PIPE; be conventional anyway */
	exit(128 + sig);
}

size_t
cli_writev_all(int fd, struct iovec *iov, int n, int *err)
{
	size_t done = 0;
	*err = 0;
	while (n > 0) {
		ssize_t w = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);
		if (w < 0) {
			if (errno == EINTR && !cli_signal)
				continue;
			*err = -errno;
			return done;
		}
		done += (size_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return done;
}

void
cli_human(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

int64_t
cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
progress_print(struct cli_progress *p, bool final)
{
	int64_t now = cli_now_ms();
	double secs = (double)(now - p->start) / 1000.0;
	char b[32], r[32];
	cli_human(p->bytes, b, sizeof b);
	cli_human(secs > 0 ? (uint64_t)((double)p->bytes / secs) : 0, r, sizeof r);
	fprintf(stderr, "%s%s: %s, %llu messages, %s/s, %.1f s%s%s%s", p->tty ? "\r\033[K" : "",
		cli_prog, b, (unsigned long long)p->msgs, r, secs, p->note[0] ? ", " : "", p->note,
		p->tty && !final ? "" : "\n");
	p->last = now;
}

void
cli_progress_init(struct cli_progress *p, bool on)
{
	memset(p, 0, sizeof *p);
	p->on = on;
	p->tty = isatty(STDERR_FILENO);
	p->start = p->last = cli_now_ms();
}

void
cli_progress_add(struct cli_progress *p, uint64_t bytes, uint64_t msgs)
{
	p->bytes += bytes;
	p->msgs += msgs;
	if (p->on && cli_now_ms() - p->last >= (p->tty ? 200 : 2000))
		progress_print(p, false);
}

void
cli_progress_done(struct cli_progress *p)
{
	if (p->on)
		progress_print(p, true);
}

const char *
cli_err_text(const struct eshm_error *err, int code)
{
	return err && err->what[0] ? err->what : eshm_strerror(code);
}

size_t
cli_capacity_arg(const char *arg)
{
	uint64_t v = cli_size_arg("--capacity", arg);
	if (v < ESHM_MIN_CAPACITY || v > ESHM_MAX_CAPACITY)
		cli_usage_error("--capacity must be between 4K and 2G, not '%s'", arg);
	return (size_t)v;
}

bool
cli_segment_option(int c, const char *arg, struct eshm_config *cfg)
{
	switch (c) {
	case 'c':
		cfg->capacity = cli_capacity_arg(arg);
		return true;
	case CLI_OPT_MODE:
		if (cli_parse_mode(arg, &cfg->mode))
			cli_usage_error("invalid --mode '%s' (octal permissions, e.g. 0660)", arg);
		mode_given = true;
		return true;
	case CLI_OPT_KEEP:
		cfg->flags |= ESHM_KEEP;
		return true;
	case CLI_OPT_NO_CREATE:
		cfg->flags |= ESHM_NO_CREATE;
		return true;
	case CLI_OPT_RETRIES:
		cfg->max_retries = (int)cli_count_arg("--retries", arg, INT_MAX);
		return true;
	case CLI_OPT_ROLE:
		if (cli_parse_role(arg, &cfg->role))
			cli_usage_error("invalid --role '%s' (master or slave)", arg);
		return true;
	case CLI_OPT_TAKEOVER:
		cfg->flags |= ESHM_TAKEOVER;
		return true;
	case CLI_OPT_EXCLUSIVE:
		cfg->flags |= ESHM_EXCLUSIVE;
		return true;
	case CLI_OPT_HEARTBEAT:
		cfg->heartbeat_ms = cli_duration_ms_arg("--heartbeat", arg);
		return true;
	case CLI_OPT_STALE:
		cfg->stale_threshold_ms = cli_duration_ms_arg("--stale", arg);
		return true;
	case CLI_OPT_SHM_GROUP:
		if (cli_parse_group(arg, &cfg->group))
			cli_usage_error("unknown group '%s' for --shm-group (a group name or "
					"number up to %d)",
					arg, INT_MAX);
		return true;
	}
	return false;
}

void
cli_other_option(int c, void (*usage)(void))
{
	if (c == 'h') {
		usage();
		exit(fflush(stdout) || ferror(stdout) ? EX_FAIL : EX_OK);
	}
	if (c == 'V')
		cli_version();
	/* getopt has said what was wrong */
	fprintf(stderr, "Try '%s --help'.\n", cli_prog);
	exit(EX_USAGE);
}

void
cli_check_names(int argc, char **argv)
{
	for (int i = optind; i < argc; i++)
		if (eshm_name_check(argv[i]))
			cli_usage_error("invalid segment name '%s': %s", argv[i],
					eshm_strerror(ESHM_ENAME));
}

const char *
cli_one_name(int argc, char **argv, struct eshm_config *cfg)
{
	if (optind == argc)
		cli_usage_error("missing segment NAME");
	if (optind + 1 < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	cli_check_names(argc, argv);
	if (cfg->group >= 0 && !mode_given)
		cfg->mode = 0660;
	struct eshm_error err;
	if (eshm_config_check(cfg, &err))
		cli_usage_error("%s", err.what);
	return argv[optind];
}

eshm_t *
cli_open(const char *name, struct eshm_config *cfg, int timeout_ms)
{
	struct eshm_error err;
	eshm_t *h;
	if (!cfg->interrupt)
		cfg->interrupt = &cli_signal;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long nap_us = 1000;
	int r;
	while ((r = eshm_open(name, cfg, &h, &err)) == ESHM_ETURN) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long waited =
			(now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (timeout_ms >= 0 && waited >= timeout_ms)
			cli_die(EX_TIMEOUT, "%s; gave up waiting for its turn after %d ms",
				cli_err_text(&err, r), timeout_ms);
		/* the raw stream may last long: look less often, up to 50 ms */
		usleep((useconds_t)nap_us);
		if (nap_us < 50000)
			nap_us *= 2;
		if (cli_signal)
			cli_reraise(cli_signal);
	}
	if (r == -EINTR && cli_signal)
		cli_reraise(cli_signal);
	if (r)
		cli_die(EX_FAIL, "%s", cli_err_text(&err, r));
	return h;
}

const char *
cli_lib_text(eshm_t *h, int code)
{
	const char *m = eshm_errmsg(h);
	return m && m[0] ? m : eshm_strerror(code);
}

int
cli_close_stdout(int status)
{
	if (fflush(stdout) == 0 && !ferror(stdout) && fclose(stdout) == 0)
		return status;
	if (errno == EPIPE)
		cli_reraise(SIGPIPE);
	if (errno != EBADF || status == EX_OK)
		cli_warn("cannot write standard output: %s", strerror(errno));
	return status == EX_OK ? EX_FAIL : status;
}
