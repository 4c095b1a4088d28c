/* util.c - clocks, paths, error text, futex calls: small pieces used by all of libeshm. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "eshm-int.h"

int64_t
eshm_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
eshm_now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * open(2) for every descriptor the library makes: never 0, 1 or 2. A
 * process (a daemon, or a shell with `>&-`) may run with a standard
 * descriptor closed; a segment opened there would then receive whatever
 * the process prints to stdout or stderr, or be read as its stdin. While
 * we open, any free standard slot holds a placeholder (an O_PATH
 * descriptor, on which read and write fail with EBADF), so even another
 * thread writing to stderr at that moment cannot reach the file.
 */
int
eshm_open_fd(const char *path, int flags, unsigned mode)
{
	int hold[3], n = 0, fd;
	while (n < 3) {
		int t = open("/dev/null", O_PATH | O_CLOEXEC);
		if (t < 0 || t > 2) {
			if (t > 2)
				close(t);
			break;
		}
		hold[n++] = t;
	}
	fd = open(path, flags | O_CLOEXEC, mode);
	int e = errno;
	while (n > 0)
		close(hold[--n]);
	errno = e;
	return fd;
}

DIR *
eshm_opendir_shm(void)
{
	int fd = eshm_open_fd(ESHM_DIR, O_RDONLY | O_DIRECTORY, 0);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d && fd >= 0) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

/* /dev/shm is sticky: only a file's owner (or a privileged user) may
 * remove it. A dry run says so too, instead of promising. */
int
eshm_remove_file(const char *path, const struct stat *st, bool dry, struct eshm_error *err)
{
	int e = 0;
	if (!dry)
		e = unlink(path) < 0 ? errno : 0;
	else if (st->st_uid != geteuid() && geteuid() != 0)
		e = EPERM;
	if (!e)
		return 0;
	if ((e == EPERM || e == EACCES) && st->st_uid != geteuid())
		return eshm_fill_error(err, -e, 0,
				       "cannot remove %s: it belongs to uid %u and %s is sticky, "
				       "so only its owner may remove it",
				       path, (unsigned)st->st_uid, ESHM_DIR);
	return eshm_fill_error(err, -e, 0, "cannot remove %s: %s", path, eshm_strerror(-e));
}

/* Field 22 of /proc/PID/stat, for display; 0 if unknown. The command name
 * (field 2) may contain spaces and parentheses, so parse after the last ')'. */
uint64_t
eshm_proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = eshm_open_fd(path, O_RDONLY, 0);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long v = 0;
	/* after ") " come fields 3..: state ppid pgrp session tty tpgid flags
	 * minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
	 * num_threads itrealvalue starttime */
	if (sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
		   "%*d %*d %*d %*d %*d %*d %llu",
		   &v) != 1)
		return 0;
	return v;
}

int
eshm_name_check(const char *name)
{
	if (!name || !*name || name[0] == '.' || name[0] == '-')
		return ESHM_ENAME;
	size_t n = 0;
	for (const char *p = name; *p; p++, n++) {
		unsigned char c = (unsigned char)*p;
		if (n >= ESHM_NAME_MAX)
			return ESHM_ENAME;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return ESHM_ENAME;
	}
	return 0;
}

int
eshm_segment_path(const char *name, char *buf, size_t len)
{
	int r = eshm_name_check(name);
	if (r)
		return r;
	int n = snprintf(buf, len, "%s/%s%s", ESHM_DIR, ESHM_PREFIX, name);
	return (n < 0 || (size_t)n >= len) ? ESHM_ENAME : 0;
}

const char *
eshm_framing_name(int framing)
{
	static const char *const names[] = {
		[ESHM_FRAMING_MESSAGE] = "message",
		[ESHM_FRAMING_LINE] = "line",
		[ESHM_FRAMING_NULL] = "null",
		[ESHM_FRAMING_RAW] = "raw",
	};
	return framing >= 0 && framing < (int)(sizeof names / sizeof names[0]) ? names[framing]
									       : NULL;
}

int
eshm_framing_delim(int framing)
{
	switch (framing) {
	case ESHM_FRAMING_MESSAGE:
	case ESHM_FRAMING_LINE:
		return '\n';
	case ESHM_FRAMING_NULL:
		return '\0';
	}
	return -1;
}

/*
 * Bytes equal to d in the n bytes at p, eight at a time: a writer counts
 * the lines of every record it commits, and a byte at a time that was 15%
 * of the CPU of a pipeline of 64-byte lines (perf, two cores). In x = word
 * ^ d, a byte is zero where p has d; ((x & 0x7f..) + 0x7f..) | x has the
 * high bit of each byte set where it is not zero, with no carry between
 * bytes. Counts gather a lane per byte, at most 255 words before they are
 * summed.
 */
uint64_t
eshm_count_byte(const void *p, size_t n, int d)
{
	const unsigned char *s = p;
	const uint64_t ones = 0x0101010101010101ULL, low7 = 0x7f * ones, high = 0x80 * ones;
	const uint64_t pat = (uint64_t)(unsigned char)d * ones;
	uint64_t found = 0;
	size_t i = 0;
	while (n - i >= 8) {
		size_t words = (n - i) / 8 < 255 ? (n - i) / 8 : 255;
		uint64_t lanes = 0;
		for (size_t end = i + words * 8; i < end; i += 8) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			x ^= pat;
			lanes += (~(((x & low7) + low7) | x) & high) >> 7;
		}
		lanes = (lanes & 0x00ff00ff00ff00ffULL) + ((lanes >> 8) & 0x00ff00ff00ff00ffULL);
		found += (lanes * 0x0001000100010001ULL) >> 48;
	}
	for (; i < n; i++)
		found += s[i] == (unsigned char)d;
	return found;
}

int
eshm_seterr(struct eshm *h, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->err, sizeof h->err, fmt, ap);
	va_end(ap);
	return code;
}

int
eshm_fill_error(struct eshm_error *err, int code, pid_t pid, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	err->pid = pid;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->what, sizeof err->what, fmt, ap);
	va_end(ap);
	return code;
}

const char *
eshm_chan_name(int ch)
{
	return ch == CH_M2S ? "m2s" : "s2m";
}

const char *
eshm_end_desc(int slot)
{
	return slot_is_writer(slot) ? "writer" : "reader";
}

const char *
eshm_group_desc(gid_t gid, char *buf, size_t len)
{
	struct group gr, *res = NULL;
	char *tmp = NULL;
	/* a group's entry lists its members: it may need a large buffer */
	for (size_t n = 4096; n <= (1u << 20); n *= 4) {
		char *t = realloc(tmp, n);
		if (!t)
			break;
		tmp = t;
		int e = getgrgid_r(gid, &gr, tmp, n, &res);
		if (e != ERANGE)
			break;
		res = NULL;
	}
	if (res)
		snprintf(buf, len, "group %s (gid %u)", res->gr_name, (unsigned)gid);
	else
		snprintf(buf, len, "gid %u", (unsigned)gid);
	free(tmp);
	return buf;
}

/* Never FUTEX_PRIVATE_FLAG: the waiter and the waker are different processes. */
int
eshm_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, tsp, NULL, 0);
	if (r == 0 || errno == EAGAIN)
		return 0;
	return errno == ETIMEDOUT ? ESHM_ETIMEDOUT : -errno;
}

void
eshm_futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static const char *const msgs[] = {
	[-ESHM_EOF - 1000] = "end of stream",
	[-ESHM_ETIMEDOUT - 1000] = "timed out",
	[-ESHM_EBUSY - 1000] = "end already held by a live process",
	[-ESHM_ENOSEG - 1000] = "no such segment",
	[-ESHM_ECORRUPT - 1000] = "segment is corrupt",
	[-ESHM_EMSGSIZE - 1000] = "message larger than the channel allows",
	[-ESHM_ETRUNC - 1000] = "buffer smaller than the message",
	[-ESHM_EWRITERLOST - 1000] = "writer lost",
	[-ESHM_ENAME - 1000] = ("invalid segment name (1-200 characters of "
				"A-Z a-z 0-9 . _ -, not starting with . or -)"),
	[-ESHM_ETAKEN - 1000] = "end taken over by another process",
	[-ESHM_ENOEND - 1000] = "handle does not hold that end",
	[-ESHM_EMODE - 1000] = "segment is more permissive than requested",
	[-ESHM_ENOTSEG - 1000] = "not an eshm segment",
	[-ESHM_EVERSION - 1000] = "segment made by an incompatible version",
	[-ESHM_EINVAL - 1000] = "invalid argument",
	[-ESHM_EPENDING - 1000] = "segment holds undelivered data",
	[-ESHM_EREMOVED - 1000] = "segment was removed or replaced while in use",
	[-ESHM_ETURN - 1000] = "another writer's raw stream has the channel to itself",
	[-ESHM_ENOGROUP - 1000] = "no consumer group of that name",
};

const char *
eshm_strerror(int code)
{
	if (code == 0)
		return "success";
	if (code <= -1000 && -code - 1000 < (int)(sizeof msgs / sizeof msgs[0]) &&
	    msgs[-code - 1000])
		return msgs[-code - 1000];
	if (code < 0 && code > -4096) {
		const char *s = strerrordesc_np(-code);
		if (s)
			return s;
	}
	return "unknown error";
}

/* flock(2) the segment (LOCK_SH or LOCK_EX), through signals: 0, or a
 * negated errno with the handle's message saying so. */
int
eshm_lock(struct eshm *h, int op)
{
	while (flock(h->fd, op) < 0)
		if (errno != EINTR)
			return eshm_seterr(h, -errno, "cannot lock segment %s: %s", h->name,
					   eshm_strerror(-errno));
	return 0;
}
