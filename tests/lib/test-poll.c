/* test-poll.c - eshm_fileno and eshm_fileno_write: descriptors for poll(2), never a lost wakeup. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "t.h"

/* 1 if fd polls readable within ms, 0 if not (-1: poll failed). */
static int
readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;
	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return r < 0 ? -1 : r > 0 && (p.revents & POLLIN);
}

/* The file a descriptor of ours is open on, into buf. */
static const char *
fd_path(int fd, char *buf, size_t len)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, len - 1);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* A writer in a child: count numbered messages (blocking), with a pause
 * of a millisecond every `pause` messages (0: none) so that the reader
 * finds the channel empty now and then; then it ends the stream. */
static pid_t
spawn_writer(const char *n, int count, int pause)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
		eshm_t *w;
		if (eshm_open(n, &c, &w, NULL))
			_exit(10);
		char buf[64];
		for (int i = 0; i < count; i++) {
			/* 8 to 64 bytes: the number, then padding */
			int k = snprintf(buf, sizeof buf, "%d ", i);
			int len = 8 + i % 57;
			memset(buf + k, 'x', (size_t)(len - k));
			if (eshm_write(w, buf, (size_t)len, 10000))
				_exit(11);
			if (pause && i % pause == pause - 1)
				t_nap_ms(1);
		}
		_exit(eshm_close(w) ? 12 : 0);
	}
	return pid;
}

static int
child_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
descriptors_belong_to_their_handle(void)
{
	const char *n = t_name();
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	wc.mode = rc.mode = 0640;
	eshm_t *w, *r;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	CHECK_EQ(eshm_fileno(NULL), ESHM_EINVAL);
	CHECK_EQ(eshm_fileno_write(NULL), ESHM_EINVAL);
	CHECK_EQ(eshm_fileno(w), ESHM_ENOEND);
	CHECK_EQ(eshm_fileno_write(r), ESHM_ENOEND);
	int fd = eshm_fileno(r), fdw = eshm_fileno_write(w);
	CHECK(fd > 2 && fdw > 2 && fd != fdw);
	CHECK_EQ(eshm_fileno(r), fd);
	CHECK_EQ(eshm_fileno_write(w), fdw);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	/* a FIFO in /dev/shm named for us, of the segment's mode and group,
	 * that eshm_list does not take for a segment */
	char path[PATH_MAX], pathw[PATH_MAX], want[64];
	snprintf(want, sizeof want, "/dev/shm/.eshm-poll.%d.", (int)getpid());
	fd_path(fd, path, sizeof path);
	fd_path(fdw, pathw, sizeof pathw);
	CHECK(!strncmp(path, want, strlen(want)));
	CHECK(!strncmp(pathw, want, strlen(want)));
	struct stat st, seg;
	char segpath[256];
	snprintf(segpath, sizeof segpath, "/dev/shm/eshm_%s", n);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(stat(segpath, &seg), 0);
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK_EQ(st.st_uid, geteuid());
	CHECK_EQ(st.st_gid, seg.st_gid);
	char **names;
	ssize_t k = eshm_list(&names);
	CHECK(k >= 1);
	for (ssize_t i = 0; i < k; i++)
		CHECK(!strstr(names[i], "eshm-poll"));
	eshm_list_free(names, (size_t)k);
	/* a live poller's FIFO is never taken for a leftover to remove */
	struct eshm_error err;
	CHECK_EQ(eshm_leftover_unlink(path, 0, NULL, &err), ESHM_EBUSY);
	CHECK_EQ(err.pid, getpid());
	/* gone with the handle */
	CHECK_EQ(eshm_close(r), 0);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	CHECK_EQ(eshm_close(w), 0);
	CHECK(access(pathw, F_OK) < 0 && errno == ENOENT);
	CHECK(!t_exists(n));
}

static void
taps_and_peeks_have_none(void)
{
	const char *n = t_name();
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config tc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	struct eshm_config pc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	tc.flags |= ESHM_TAP;
	pc.flags |= ESHM_PEEK;
	eshm_t *w, *t, *p;
	OPEN(w, n, &wc);
	CHECK_EQ(eshm_write(w, "a", 1, 0), 0);
	OPEN(t, n, &tc);
	OPEN(p, n, &pc);
	CHECK_EQ(eshm_fileno(t), ESHM_ENOEND);
	CHECK_EQ(eshm_fileno(p), ESHM_ENOEND);
	CHECK(strstr(eshm_errmsg(p), "peek") != NULL);
	eshm_close(p);
	eshm_close(t);
	eshm_detach(w, ESHM_DETACH_LOST, NULL);
}

static void
empty_times_out_then_a_forked_writer_makes_it_readable(void)
{
	const char *n = t_name();
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *r;
	OPEN(r, n, &rc);
	int fd = eshm_fileno(r);
	CHECK(fd >= 0);
	char buf[64];
	CHECK_EQ(readable(fd, 50), 0);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(readable(fd, 50), 0);
	pid_t pid = spawn_writer(n, 1, 0);
	CHECK_EQ(readable(fd, 10000), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 8);
	CHECK(!memcmp(buf, "0 xxxxxx", 8));
	/* the writer ended its stream: readable again, if not already */
	int e = ESHM_ETIMEDOUT;
	for (int i = 0; i < 100 && e == ESHM_ETIMEDOUT; i++) {
		e = (int)eshm_read(r, buf, sizeof buf, 0);
		if (e == ESHM_ETIMEDOUT)
			CHECK_EQ(readable(fd, 10000), 1);
	}
	CHECK_EQ(e, ESHM_EOF);
	CHECK_EQ(child_status(pid), 0);
	/* drained and ended: not readable until something happens */
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(readable(fd, 50), 0);
	CHECK_EQ(eshm_close(r), 0);
	CHECK(!t_exists(n));
}

/* Read until the end of stream from a forked writer of count messages,
 * waiting only in poll(2): a lost wakeup is a poll that times out. how:
 * 0 eshm_read, 1 eshm_read_batch, 2 eshm_peek_chunk and eshm_consume. */
static void
every_message_arrives(int count, int pause, int how)
{
	const char *n = t_name();
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	rc.capacity = ESHM_MIN_CAPACITY; /* full often: the writer sleeps too */
	eshm_t *r;
	OPEN(r, n, &rc);
	int fd = eshm_fileno(r);
	CHECK(fd >= 0);
	pid_t pid = spawn_writer(n, count, pause);
	char buf[4096];
	uint32_t lens[64];
	int got = 0, polls = 0, rc_ = 0;
	bool ended = false;
	while (!ended && !rc_) {
		ssize_t k;
		if (how == 1) {
			k = eshm_read_batch(r, buf, sizeof buf, lens, 64, 0);
		} else if (how == 2) {
			struct eshm_chunk ck;
			k = eshm_peek_chunk(r, &ck, 1, 0);
			if (k == 0) {
				memcpy(buf, ck.data, ck.len);
				lens[0] = (uint32_t)ck.len;
				k = eshm_consume(r, ESHM_ALL) ? -1 : 1;
			}
		} else {
			k = eshm_read(r, buf, sizeof buf, 0);
			if (k >= 0) {
				lens[0] = (uint32_t)k;
				k = 1;
			}
		}
		if (k == ESHM_EOF) {
			ended = true;
		} else if (k == ESHM_ETIMEDOUT) {
			polls++;
			if (readable(fd, 20000) != 1)
				rc_ = 1; /* lost */
		} else if (k < 0) {
			rc_ = 2;
		} else {
			size_t off = 0;
			for (ssize_t i = 0; i < k; i++) {
				if (atoi(buf + off) != got || lens[i] != (uint32_t)(8 + got % 57))
					rc_ = 3;
				off += lens[i];
				got++;
			}
		}
	}
	if (rc_)
		kill(pid, SIGKILL);
	fprintf(stderr, "  %d messages, %d polls\n", got, polls);
	CHECK_EQ(rc_, 0);
	CHECK_EQ(got, count);
	CHECK_EQ(child_status(pid), 0);
	CHECK_EQ(eshm_close(r), 0);
	CHECK(!t_exists(n));
}

static void
hundred_thousand_messages_read_one_by_one_lose_no_wakeup(void)
{
	every_message_arrives(100000, 5000, 0);
}

static void
hundred_thousand_messages_read_in_batches_lose_no_wakeup(void)
{
	every_message_arrives(100000, 0, 1);
}

static void
messages_peeked_and_consumed_lose_no_wakeup(void)
{
	every_message_arrives(30000, 1000, 2);
}

static void
end_of_stream_and_a_lost_writer_make_it_readable(void)
{
	const char *n = t_name();
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *w, *r;
	char buf[16];
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	int fd = eshm_fileno(r);
	CHECK_EQ(readable(fd, 0), 0);
	CHECK_EQ(eshm_eos(w), 0);
	CHECK_EQ(readable(fd, 5000), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_EOF);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(readable(fd, 0), 0);
	/* a writer that detaches without ending its stream */
	CHECK_EQ(eshm_write(w, "m", 1, 0), 0);
	CHECK_EQ(readable(fd, 5000), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(readable(fd, 0), 0);
	CHECK_EQ(eshm_detach(w, ESHM_DETACH_LOST, NULL), 0);
	CHECK_EQ(readable(fd, 5000), 1);
	CHECK_EQ(eshm_peer_state(r), ESHM_PEER_DEAD);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(readable(fd, 0), 0);
	CHECK_EQ(eshm_close(r), 0);
}

static void
write_side_readable_when_room_is_made(void)
{
	const char *n = t_name();
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	wc.capacity = ESHM_MIN_CAPACITY;
	eshm_t *w, *r;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	int fd = eshm_fileno_write(w);
	CHECK(fd >= 0);
	CHECK_EQ(readable(fd, 0), 1); /* room: try writing */
	char msg[100] = "x", buf[128];
	int sent = 0, r_ = 0;
	while ((r_ = eshm_write(w, msg, sizeof msg, 0)) == 0)
		sent++;
	CHECK_EQ(r_, ESHM_ETIMEDOUT);
	CHECK(sent > 10);
	CHECK_EQ(readable(fd, 50), 0);
	/* one message read frees too little to wake writers */
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 100);
	CHECK_EQ(readable(fd, 50), 0);
	/* (what it took and did not read goes back to the group) */
	CHECK_EQ(eshm_close(r), 0);
	CHECK_EQ(readable(fd, 50), 0);
	/* the rest, read by another process, frees enough */
	pid_t pid = fork();
	if (pid == 0) {
		if (eshm_open(n, &rc, &r, NULL))
			_exit(10);
		for (int i = 1; i < sent; i++)
			if (eshm_read(r, buf, sizeof buf, 5000) != 100)
				_exit(1);
		_exit(eshm_close(r) ? 2 : 0);
	}
	CHECK_EQ(child_status(pid), 0);
	CHECK_EQ(readable(fd, 5000), 1);
	CHECK_EQ(eshm_write(w, msg, sizeof msg, 0), 0);
	CHECK_EQ(eshm_close(w), 0);
}

/* Two descriptors: a poller per direction, exchanging numbers, each
 * waiting only in poll(2) on both of its descriptors. */
static void
ping_pong_on_descriptors_both_ways(void)
{
	const char *n = t_name();
	enum { N = 20000 };
	struct eshm_config mc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_BOTH);
	mc.capacity = ESHM_MIN_CAPACITY;
	eshm_t *m;
	OPEN(m, n, &mc);
	pid_t pid = fork();
	if (pid == 0) {
		struct eshm_config sc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_BOTH);
		eshm_t *s;
		if (eshm_open(n, &sc, &s, NULL))
			_exit(10);
		int fd = eshm_fileno(s);
		char buf[32];
		for (int i = 0; i < N;) {
			ssize_t k = eshm_read(s, buf, sizeof buf - 1, 0);
			if (k == ESHM_ETIMEDOUT) {
				if (readable(fd, 20000) != 1)
					_exit(11);
				continue;
			}
			if (k >= 0)
				buf[k] = '\0';
			if (k < 0 || atoi(buf) != i)
				_exit(12);
			if (eshm_write(s, buf, (size_t)k, 10000))
				_exit(13);
			i++;
		}
		_exit(eshm_close(s) ? 14 : 0);
	}
	int fd = eshm_fileno(m), fdw = eshm_fileno_write(m);
	CHECK(fd >= 0 && fdw >= 0);
	char buf[32];
	int sent = 0, got = 0, lost = 0;
	while (got < N && !lost) {
		/* as many requests as fit, then the answers there are */
		while (sent < N) {
			int k = snprintf(buf, sizeof buf, "%d", sent);
			int e = eshm_write(m, buf, (size_t)k, 0);
			if (e == ESHM_ETIMEDOUT)
				break;
			if (e)
				lost = 2;
			sent++;
		}
		ssize_t k;
		while ((k = eshm_read(m, buf, sizeof buf - 1, 0)) >= 0) {
			buf[k] = '\0';
			if (atoi(buf) != got)
				lost = 3;
			got++;
		}
		/* (the end of the stream comes after the last answer, when the
		 * peer closed before we looked again) */
		if (k != ESHM_ETIMEDOUT && !(k == ESHM_EOF && got == N)) {
			fprintf(stderr, "  read after %d answers: %zd: %s\n", got, k,
				eshm_errmsg(m));
			lost = 4;
			break;
		}
		if (got == N)
			break;
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = fdw, .events = POLLIN}};
		if (poll(p, sent < N ? 2 : 1, 20000) <= 0)
			lost = 1;
	}
	if (lost)
		kill(pid, SIGKILL);
	CHECK_EQ(lost, 0);
	CHECK_EQ(got, N);
	CHECK_EQ(child_status(pid), 0);
	CHECK_EQ(eshm_close(m), 0);
}

/* A blocking reader done waiting lowers data_wait, unless pollers need
 * it up: a poller of its group must still be woken. */
static void
a_sleeper_of_the_group_leaves_the_pollers_flag_up(void)
{
	const char *n = t_name();
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *w, *p, *s;
	char buf[16];
	OPEN(w, n, &wc);
	OPEN(p, n, &rc);
	OPEN(s, n, &rc);
	int fd = eshm_fileno(p);
	CHECK_EQ(eshm_read(p, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(eshm_read(s, buf, sizeof buf, 30), ESHM_ETIMEDOUT);
	CHECK_EQ(eshm_write(w, "m", 1, 0), 0);
	CHECK_EQ(readable(fd, 5000), 1);
	CHECK_EQ(eshm_read(p, buf, sizeof buf, 0), 1);
	/* and pollers of two groups are both woken */
	struct eshm_config gc = rc;
	gc.consumer_group = "other";
	eshm_t *q;
	OPEN(q, n, &gc);
	int fdq = eshm_fileno(q);
	CHECK_EQ(eshm_read(p, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(eshm_read(q, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(readable(fd, 0), 0);
	CHECK_EQ(readable(fdq, 0), 0);
	CHECK_EQ(eshm_write(w, "n", 1, 0), 0);
	CHECK_EQ(readable(fd, 5000), 1);
	CHECK_EQ(readable(fdq, 5000), 1);
	CHECK_EQ(eshm_read(p, buf, sizeof buf, 0), 1);
	CHECK_EQ(eshm_read(q, buf, sizeof buf, 0), 1);
	eshm_close(q);
	eshm_close(s);
	eshm_close(p);
	eshm_close(w);
}

/* A poller killed leaves its FIFO: a leftover, removed once it is dead. */
static void
a_killed_pollers_fifo_is_a_leftover(void)
{
	const char *n = t_name();
	int pfd[2];
	CHECK_EQ(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
		eshm_t *r;
		if (eshm_open(n, &rc, &r, NULL))
			_exit(10);
		char path[PATH_MAX];
		int fd = eshm_fileno(r);
		if (fd < 0)
			_exit(11);
		fd_path(fd, path, sizeof path);
		if (write(pfd[1], path, strlen(path) + 1) < 0)
			_exit(12);
		for (;;)
			pause();
	}
	char path[PATH_MAX] = "";
	ssize_t k = read(pfd[0], path, sizeof path - 1);
	close(pfd[0]);
	close(pfd[1]);
	CHECK(k > 0);
	struct eshm_leftover *lo;
	ssize_t nlo = eshm_leftovers(&lo);
	int found = -1;
	for (ssize_t i = 0; i < nlo; i++)
		if (!strcmp(lo[i].path, path))
			found = lo[i].creator_alive;
	eshm_leftovers_free(lo);
	CHECK_EQ(found, 1);
	CHECK_EQ(eshm_leftover_unlink(path, 0, NULL, NULL), ESHM_EBUSY);
	kill(pid, SIGKILL);
	CHECK_EQ(child_status(pid), 128 + SIGKILL);
	nlo = eshm_leftovers(&lo);
	found = -1;
	for (ssize_t i = 0; i < nlo; i++)
		if (!strcmp(lo[i].path, path)) {
			found = lo[i].creator_alive;
			CHECK_EQ(lo[i].creator_pid, pid);
		}
	eshm_leftovers_free(lo);
	CHECK_EQ(found, 0);
	struct eshm_leftover info;
	CHECK_EQ(eshm_leftover_unlink(path, ESHM_UNLINK_DRY_RUN, &info, NULL), 0);
	CHECK(access(path, F_OK) == 0);
	CHECK_EQ(eshm_leftover_unlink(path, 0, &info, NULL), 0);
	CHECK(access(path, F_OK) < 0);
	CHECK_EQ(info.creator_pid, pid);
	/* the segment the poller held is an orphan, as any */
	CHECK_EQ(eshm_unlink(n, 0, 0, NULL, NULL), 0);
}

/* eshm_spin: 1 at once when there is data, room or the end of the stream,
 * 0 when there is none after its spin, and no sleep, no wakeup of the
 * descriptor; the errors eshm_fileno has, and its own. */
static void
spin_looks_and_never_sleeps(void)
{
	const char *n = t_name();
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	struct eshm_config tc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	tc.flags |= ESHM_TAP;
	wc.capacity = ESHM_MIN_CAPACITY;
	eshm_t *w, *r, *t;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	OPEN(t, n, &tc);
	int fd = eshm_fileno(r);
	CHECK(fd >= 0);
	char buf[128], msg[100] = "x";
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT); /* armed */
	struct eshm_info in;
	CHECK_EQ(eshm_stats(r, &in), 0);
	uint64_t waits = in.chan[0].waits_empty;
	CHECK_EQ(eshm_spin(r, ESHM_END_READ, 0), 0);
	CHECK_EQ(readable(fd, 0), 0);
	CHECK_EQ(eshm_stats(r, &in), 0);
	CHECK_EQ(in.chan[0].waits_empty, waits); /* it did not sleep */
	CHECK_EQ(eshm_write(w, "a", 1, 0), 0);
	CHECK_EQ(eshm_spin(r, ESHM_END_READ, 0), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 1);
	/* room, then none */
	CHECK_EQ(eshm_spin(w, ESHM_END_WRITE, sizeof msg), 1);
	while (eshm_write(w, msg, sizeof msg, 0) == 0)
		;
	CHECK_EQ(eshm_spin(w, ESHM_END_WRITE, sizeof msg), 0);
	CHECK_EQ(eshm_spin(w, ESHM_END_WRITE, 1 << 20), ESHM_EMSGSIZE);
	/* errors */
	CHECK_EQ(eshm_spin(NULL, ESHM_END_READ, 0), ESHM_EINVAL);
	CHECK_EQ(eshm_spin(r, 7, 0), ESHM_EINVAL);
	CHECK_EQ(eshm_spin(r, ESHM_END_WRITE, 1), ESHM_ENOEND);
	CHECK_EQ(eshm_spin(w, ESHM_END_READ, 0), ESHM_ENOEND);
	CHECK_EQ(eshm_spin(t, ESHM_END_READ, 0), ESHM_ENOEND);
	/* the end of the stream, once all is read */
	while (eshm_read(r, buf, sizeof buf, 0) > 0)
		;
	CHECK_EQ(eshm_close(w), 0);
	CHECK_EQ(eshm_spin(r, ESHM_END_READ, 0), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_EOF);
	eshm_close(t);
	eshm_close(r);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"descriptors_belong_to_their_handle", descriptors_belong_to_their_handle},
		{"taps_and_peeks_have_none", taps_and_peeks_have_none},
		{"empty_times_out_then_a_forked_writer_makes_it_readable",
		 empty_times_out_then_a_forked_writer_makes_it_readable},
		{"hundred_thousand_messages_read_one_by_one_lose_no_wakeup",
		 hundred_thousand_messages_read_one_by_one_lose_no_wakeup},
		{"hundred_thousand_messages_read_in_batches_lose_no_wakeup",
		 hundred_thousand_messages_read_in_batches_lose_no_wakeup},
		{"messages_peeked_and_consumed_lose_no_wakeup",
		 messages_peeked_and_consumed_lose_no_wakeup},
		{"end_of_stream_and_a_lost_writer_make_it_readable",
		 end_of_stream_and_a_lost_writer_make_it_readable},
		{"write_side_readable_when_room_is_made", write_side_readable_when_room_is_made},
		{"ping_pong_on_descriptors_both_ways", ping_pong_on_descriptors_both_ways},
		{"a_sleeper_of_the_group_leaves_the_pollers_flag_up",
		 a_sleeper_of_the_group_leaves_the_pollers_flag_up},
		{"a_killed_pollers_fifo_is_a_leftover", a_killed_pollers_fifo_is_a_leftover},
		{"spin_looks_and_never_sleeps", spin_looks_and_never_sleeps},
		{NULL, NULL},
	};
	return t_run(cases, argc, argv);
}
