/* leftover.c - find and remove what killed processes left: unfinished segments, pollers' FIFOs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eshm-int.h"

/*
 * A creator flocks its temporary file from the instant after creating it
 * (segment.c), and the kernel drops the lock however the creator dies: a
 * lock we can take means its creator is gone, but for that instant, and
 * for creators of an older libeshm that locked only at the end. So a free
 * lock is taken for a dead creator only when its pid no longer exists, or
 * the file has not changed for a minute: a pid reused by another process
 * must not keep a leftover forever.
 *
 * A poller's FIFO (poll.c) is judged by its lock alone: a poller checks,
 * once it holds the lock, that the name still leads to its FIFO, and
 * makes another if a cleaner took it meanwhile.
 */
#define GRACE_MS 60000

/* The PID in a file name .eshm-new.PID.N or .eshm-poll.PID.N, or 0 if it
 * is of neither form; *fifo says which. */
static pid_t
name_pid(const char *name, bool *fifo)
{
	const size_t nlen = sizeof ESHM_NEW_PREFIX - 1, plen = sizeof ESHM_POLL_PREFIX - 1;
	const char *p;
	*fifo = !strncmp(name, ESHM_POLL_PREFIX, plen);
	if (*fifo)
		p = name + plen;
	else if (!strncmp(name, ESHM_NEW_PREFIX, nlen))
		p = name + nlen;
	else
		return 0;
	long long pid = 0;
	int digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits == 10)
			return 0;
		pid = pid * 10 + (*p - '0');
	}
	if (!digits || *p++ != '.' || pid <= 0 || pid > INT_MAX)
		return 0;
	for (digits = 0; *p >= '0' && *p <= '9'; p++, digits++)
		if (digits == 19)
			return 0;
	return digits && !*p ? (pid_t)pid : 0;
}

/* The PID of a path ESHM_DIR/.eshm-new.PID.N or .eshm-poll.PID.N, or 0. */
static pid_t
path_pid(const char *path, bool *fifo)
{
	const size_t dlen = sizeof ESHM_DIR - 1;
	if (!path || strncmp(path, ESHM_DIR, dlen) || path[dlen] != '/' ||
	    strlen(path) >= ESHM_LEFTOVER_PATH_MAX)
		return 0;
	return name_pid(path + dlen + 1, fifo);
}

/* The kind of file a leftover of that name is. */
static bool
right_kind(const struct stat *st, bool fifo)
{
	return fifo ? S_ISFIFO(st->st_mode) : S_ISREG(st->st_mode);
}

/* What st says, and whether the creator lives given whether its lock was
 * free. */
static void
describe(const struct stat *st, bool lock_free, bool fifo, struct eshm_leftover *lo)
{
	int64_t now = eshm_now_real();
	int64_t t = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	lo->age_ms = now > t ? (now - t) / 1000000 : 0;
	lo->size = (uint64_t)st->st_size;
	lo->mode = st->st_mode & 07777;
	lo->uid = st->st_uid;
	/* kill(pid, 0) sends nothing; EPERM: it exists, as another user's */
	bool pid_exists = kill(lo->creator_pid, 0) == 0 || errno == EPERM;
	lo->creator_alive = !lock_free || (!fifo && pid_exists && lo->age_ms < GRACE_MS);
}

/* Look at one leftover without changing it: 0 with lo filled (lo->error
 * set if it could not be opened), or -1 to leave it out: gone meanwhile,
 * or not a regular file (a FIFO, for a poller's), so not ours. */
static int
examine(struct eshm_leftover *lo, bool fifo)
{
	struct stat st, fst;
	if (lstat(lo->path, &st) < 0 || !right_kind(&st, fifo))
		return -1;
	int fd = eshm_open_fd(lo->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			return -1;
		lo->error = -errno;
		describe(&st, false, fifo, lo);
		lo->creator_alive = -1;
		return 0;
	}
	if (fstat(fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
		close(fd);
		return -1; /* replaced between the two looks */
	}
	/* shared: two lookers never take each other for the creator, and
	 * only for an instant do they delay a creator's exclusive lock */
	bool lock_free = flock(fd, LOCK_SH | LOCK_NB) == 0;
	int e = errno;
	if (lock_free)
		flock(fd, LOCK_UN);
	close(fd);
	describe(&fst, lock_free, fifo, lo);
	if (!lock_free && e != EWOULDBLOCK) {
		lo->error = -e;
		lo->creator_alive = -1;
	}
	return 0;
}

static int
cmp_paths(const void *a, const void *b)
{
	return strcmp(((const struct eshm_leftover *)a)->path,
		      ((const struct eshm_leftover *)b)->path);
}

ssize_t
eshm_leftovers(struct eshm_leftover **out)
{
	if (!out)
		return ESHM_EINVAL;
	*out = NULL;
	DIR *d = eshm_opendir_shm();
	if (!d)
		return -errno;
	struct eshm_leftover *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		bool fifo;
		pid_t pid = name_pid(de->d_name, &fifo);
		if (!pid)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			struct eshm_leftover *nv = realloc(v, cap * sizeof *v);
			if (!nv) {
				closedir(d);
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		struct eshm_leftover *lo = &v[n];
		memset(lo, 0, sizeof *lo);
		/* never cut: name_pid bounds the name to 10 + 10 + 1 + 19 bytes */
		snprintf(lo->path, sizeof lo->path, "%s/%.*s", ESHM_DIR,
			 (int)(sizeof lo->path - sizeof ESHM_DIR - 1), de->d_name);
		lo->creator_pid = pid;
		if (examine(lo, fifo) == 0)
			n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, cmp_paths);
	else {
		free(v);
		v = NULL;
	}
	*out = v;
	return (ssize_t)n;
}

void
eshm_leftovers_free(struct eshm_leftover *v)
{
	free(v);
}

/* Why we may not open a file, in words: another user's, or errno's. */
static int
refused(struct eshm_error *err, int e, const char *path, const struct stat *st)
{
	if (e == EACCES && st && st->st_uid != geteuid())
		return eshm_fill_error(
			err, -e, 0, "cannot open %s: it belongs to uid %u, and we may not read it",
			path, (unsigned)st->st_uid);
	return eshm_fill_error(err, -e, 0, "cannot open %s: %s", path, eshm_strerror(-e));
}

int
eshm_leftover_unlink(const char *path, unsigned flags, struct eshm_leftover *info,
		     struct eshm_error *err)
{
	struct eshm_leftover local;
	struct stat st;
	if (err)
		memset(err, 0, sizeof *err);
	if (!info)
		info = &local;
	memset(info, 0, sizeof *info);
	bool fifo;
	pid_t pid = path_pid(path, &fifo);
	if (!pid)
		return eshm_fill_error(err, ESHM_EINVAL, 0,
				       "%s is not the file of an unfinished segment (%s/%sPID.N) "
				       "nor a poller's FIFO (%s/%sPID.N)",
				       path ? path : "(null)", ESHM_DIR, ESHM_NEW_PREFIX, ESHM_DIR,
				       ESHM_POLL_PREFIX);
	snprintf(info->path, sizeof info->path, "%s", path);
	info->creator_pid = pid;
	int fd = eshm_open_fd(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return eshm_fill_error(err, ESHM_ENOSEG, 0, "%s no longer exists", path);
		if (e == ELOOP)
			return eshm_fill_error(err, ESHM_ENOTSEG, 0,
					       "%s is a symbolic link; not removing it", path);
		return refused(err, e, path, lstat(path, &st) == 0 ? &st : NULL);
	}
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = eshm_fill_error(err, -errno, 0, "cannot stat %s: %s", path,
				    eshm_strerror(-errno));
		close(fd);
		return r;
	}
	if (!right_kind(&st, fifo)) {
		close(fd);
		return eshm_fill_error(err, ESHM_ENOTSEG, 0, "%s is not a %s; not removing it",
				       path, fifo ? "FIFO" : "regular file");
	}
	/* Never wait: a held lock is a creation in progress, or a live poller. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK) {
			describe(&st, false, fifo, info);
			if (fifo)
				return eshm_fill_error(
					err, ESHM_EBUSY, pid,
					"%s is the descriptor of pid %d, which polls", path,
					(int)pid);
			return eshm_fill_error(err, ESHM_EBUSY, pid,
					       "unfinished segment %s is being created by pid %d",
					       path, (int)pid);
		}
		return eshm_fill_error(err, -e, 0, "cannot lock %s: %s", path, eshm_strerror(-e));
	}
	if (!eshm_same_file(fd, path, NULL, NULL)) {
		r = eshm_fill_error(err, ESHM_ENOSEG, 0, "%s was removed meanwhile", path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = eshm_fill_error(err, -errno, 0, "cannot stat %s: %s", path,
				    eshm_strerror(-errno));
		goto out;
	}
	describe(&st, true, fifo, info);
	if (info->creator_alive) {
		r = eshm_fill_error(err, ESHM_EBUSY, pid,
				    "unfinished segment %s may still be being created by pid %d, "
				    "which is alive (taken for dead once unchanged for %d s)",
				    path, (int)pid, GRACE_MS / 1000);
		goto out;
	}
	r = eshm_remove_file(path, &st, flags & ESHM_UNLINK_DRY_RUN, err);
out:
	flock(fd, LOCK_UN);
	close(fd);
	return r;
}
