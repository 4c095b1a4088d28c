/* test-faults.c - faults users hit: closed standard descriptors, displaced holders,
 * removed segments, lost writers, polls that must not spin. */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "eshm-int.h" /* white-box: the spin budget and the wait flags */
#include "t.h"

static int
closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

/* A daemon calls the library with 0, 1 and 2 closed: nothing the library
 * opens may take their place, or the program's prints go into a segment. */
static void
descriptors_never_take_0_1_2(void)
{
	const char *n = t_name();
	pid_t pid = fork();
	if (pid == 0) {
		close(0);
		close(1);
		close(2);
		struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
		eshm_t *h;
		if (eshm_open(n, &c, &h, NULL))
			_exit(10);
		if (!closed(0) || !closed(1) || !closed(2))
			_exit(11);
		struct eshm_info info;
		char **names;
		ssize_t k = eshm_list(&names);
		if (k < 0)
			_exit(12);
		eshm_list_free(names, (size_t)k);
		if (eshm_inspect(n, &info, NULL) || eshm_stats(h, &info) ||
		    eshm_unlink(n, ESHM_UNLINK_DRY_RUN, 0, NULL, NULL) != ESHM_EBUSY)
			_exit(13);
		if (!closed(0) || !closed(1) || !closed(2))
			_exit(14);
		/* what the program prints goes nowhere, not into the segment */
		if (write(1, "junk", 4) >= 0 || write(2, "junk", 4) >= 0)
			_exit(15);
		if (eshm_write(h, "x", 1, 1000))
			_exit(16);
		_exit(eshm_close(h) ? 17 : 0);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *r;
	OPEN(r, n, &c);
	char buf[8];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), 1);
	CHECK_EQ(buf[0], 'x');
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), ESHM_EOF);
	CHECK_EQ(eshm_close(r), 0);
	CHECK(!t_exists(n));
}

/* Wait until the end's holder looks stale from outside, up to 5 s. */
static int
wait_stale(const char *n, int ch, bool writer)
{
	for (int i = 0; i < 500; i++) {
		struct eshm_info info;
		if (eshm_inspect(n, &info, NULL) == 0) {
			const struct eshm_end_info *e =
				writer ? &info.chan[ch].writer : &info.chan[ch].reader;
			if (e->state == ESHM_PEER_STALE)
				return 0;
		}
		t_nap_ms(10);
	}
	return -1;
}

/*
 * A writer stopped past its stale threshold is displaced with takeover.
 * When it resumes it must touch nothing: no message, no reservation, no
 * end mark; it learns ESHM_ETAKEN, and the new writer's messages are
 * intact.
 */
static void
displaced_writer_writes_nothing(void)
{
	const char *n = t_name();
	int go[2], ready[2];
	CHECK(pipe(go) == 0 && pipe(ready) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
		c.stale_threshold_ms = 20;
		c.flags |= ESHM_EXCLUSIVE; /* sharing writers are never displaced */
		eshm_t *h;
		if (eshm_open(n, &c, &h, NULL) || eshm_write(h, "old", 3, 1000))
			_exit(10);
		char b = 0;
		if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(11);
		void *p;
		size_t avail;
		if (eshm_write(h, "X", 1, 0) != ESHM_ETAKEN ||
		    eshm_reserve(h, 1, &p, &avail, 0) != ESHM_ETAKEN ||
		    eshm_eos(h) != ESHM_ETAKEN || eshm_flush(h, 0) != ESHM_ETAKEN ||
		    !strstr(eshm_errmsg(h), "taken over by pid") || eshm_check(h) != ESHM_ETAKEN)
			_exit(12);
		_exit(eshm_detach(h, ESHM_DETACH_LOST, NULL) ? 13 : 0);
	}
	char b;
	CHECK_EQ(read(ready[0], &b, 1), 1);
	kill(pid, SIGSTOP);
	CHECK_EQ(wait_stale(n, CH_M2S, true), 0);
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	c.flags |= ESHM_TAKEOVER | ESHM_EXCLUSIVE;
	eshm_t *w, *r;
	OPEN(w, n, &c);
	CHECK_EQ(eshm_write(w, "new", 3, 0), 0);
	kill(pid, SIGCONT);
	CHECK_EQ(write(go[1], "g", 1), 1);
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	CHECK_EQ(eshm_write(w, "more", 4, 0), 0);
	CHECK_EQ(eshm_close(w), 0);
	struct eshm_config cr = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	OPEN(r, n, &cr);
	char buf[8];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), 3);
	CHECK(!memcmp(buf, "old", 3));
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), 3);
	CHECK(!memcmp(buf, "new", 3));
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), 4);
	CHECK(!memcmp(buf, "more", 4));
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), ESHM_EOF);
	CHECK_EQ(eshm_close(r), 0);
	close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
}

/* A reader that took a message, stopped and was displaced releases nothing
 * when it resumes: the message stays for its successor. */
static void
displaced_reader_releases_nothing(void)
{
	const char *n = t_name();
	struct eshm_config cw = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	eshm_t *w;
	OPEN(w, n, &cw);
	CHECK_EQ(eshm_write(w, "one", 3, 0), 0);
	CHECK_EQ(eshm_write(w, "two", 3, 0), 0);
	int go[2], ready[2];
	CHECK(pipe(go) == 0 && pipe(ready) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
		c.stale_threshold_ms = 20;
		eshm_t *h;
		const void *p;
		size_t len;
		if (eshm_open(n, &c, &h, NULL) || eshm_peek(h, &p, &len, 1000) || len != 3)
			_exit(10);
		char b = 0;
		if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(11);
		char buf[8];
		if (eshm_release(h) != ESHM_ETAKEN || eshm_consume(h, ESHM_ALL) != ESHM_ETAKEN ||
		    eshm_read(h, buf, sizeof buf, 0) != ESHM_ETAKEN ||
		    eshm_peek(h, &p, &len, 0) != ESHM_ETAKEN)
			_exit(12);
		_exit(eshm_close(h) ? 13 : 0);
	}
	char b;
	CHECK_EQ(read(ready[0], &b, 1), 1);
	kill(pid, SIGSTOP);
	CHECK_EQ(wait_stale(n, CH_M2S, false), 0);
	struct eshm_config cr = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	cr.flags |= ESHM_TAKEOVER;
	eshm_t *r;
	OPEN(r, n, &cr);
	kill(pid, SIGCONT);
	CHECK_EQ(write(go[1], "g", 1), 1);
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	char buf[8];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), 3);
	CHECK(!memcmp(buf, "one", 3));
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), 3);
	CHECK(!memcmp(buf, "two", 3));
	CHECK_EQ(eshm_close(w), 0);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), ESHM_EOF);
	CHECK_EQ(eshm_close(r), 0);
	close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
}

static void
path_of(const char *n, char *buf, size_t len)
{
	snprintf(buf, len, "/dev/shm/eshm_%s", n);
}

/* Removed under a writer (what logind's RemoveIPC does): the writer learns
 * it when it finishes, with what it could not deliver, and never touches
 * the new segment of that name. */
static void
removed_segment_is_reported_at_detach(void)
{
	const char *n = t_name();
	char path[256];
	path_of(n, path, sizeof path);
	struct eshm_config cw = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	eshm_t *w, *other;
	OPEN(w, n, &cw);
	CHECK_EQ(eshm_write(w, "one", 3, 0), 0);
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(eshm_write(w, "two", 3, 0), 0);
	CHECK_EQ(eshm_check(w), ESHM_EREMOVED);
	/* someone else makes a new segment of the same name meanwhile */
	struct eshm_config co = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	co.flags |= ESHM_KEEP;
	OPEN(other, n, &co);
	struct eshm_error e;
	CHECK_EQ(eshm_detach(w, 0, &e), ESHM_EREMOVED);
	CHECK(strstr(e.what, "was removed or replaced while in use"));
	CHECK(strstr(e.what, "2 messages (6 bytes)"));
	/* the new one is untouched: no end mark, still there */
	char buf[8];
	CHECK_EQ(eshm_read(other, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	CHECK(t_exists(n));
	CHECK_EQ(eshm_close(other), 0);
	CHECK_EQ(eshm_unlink(n, ESHM_UNLINK_KEPT, 0, NULL, NULL), 0);
}

/* Removed while nothing was left in it: nothing is lost, no error. */
static void
removed_empty_segment_is_no_loss(void)
{
	const char *n = t_name();
	char path[256];
	path_of(n, path, sizeof path);
	eshm_t *w, *r;
	struct eshm_config cw = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config cr = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	OPEN(w, n, &cw);
	OPEN(r, n, &cr);
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(eshm_write(w, "a", 1, 0), 0);
	CHECK_EQ(eshm_close(w), 0);
	char buf[8];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 1000), ESHM_EOF);
	struct eshm_error e;
	CHECK_EQ(eshm_detach(r, 0, &e), 0);
	CHECK(!t_exists(n));
}

/* A reader waiting on a removed segment gives up within a wait slice, not
 * at its timeout: no writer can reach it any more. The same for a writer
 * waiting for space. */
static void
waiters_notice_removal(void)
{
	const char *n = t_name();
	char path[256];
	path_of(n, path, sizeof path);
	struct eshm_config cw = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config cr = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	cw.capacity = 4096;
	eshm_t *w, *r;
	OPEN(r, n, &cr);
	CHECK_EQ(unlink(path), 0);
	char buf[64];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 60000), ESHM_EREMOVED);
	CHECK(strstr(eshm_errmsg(r), "new peers cannot reach it"));
	CHECK_EQ(eshm_close(r), 0);

	n = t_name();
	path_of(n, path, sizeof path);
	OPEN(w, n, &cw);
	memset(buf, 'x', sizeof buf);
	while (eshm_write(w, buf, sizeof buf, 0) == 0)
		;
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(eshm_write(w, buf, sizeof buf, 60000), ESHM_EREMOVED);
	CHECK(strstr(eshm_errmsg(w), "were not delivered"));
	CHECK_EQ(eshm_detach(w, ESHM_DETACH_LOST, NULL), ESHM_EREMOVED);
}

/* A writer that failed detaches as lost: its reader gets everything it
 * committed, then "writer lost", not a clean end of stream. */
static void
lost_writer_is_not_end_of_stream(void)
{
	const char *n = t_name();
	struct eshm_config cw = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config cr = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	cr.max_retries = 2;
	cr.retry_ms = 10;
	eshm_t *w, *r;
	OPEN(w, n, &cw);
	CHECK_EQ(eshm_write(w, "a", 1, 0), 0);
	CHECK_EQ(eshm_detach(w, ESHM_DETACH_LOST, NULL), 0);
	OPEN(r, n, &cr);
	CHECK_EQ(eshm_peer_state(r), ESHM_PEER_DEAD);
	char buf[8];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 5000), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 5000), ESHM_EWRITERLOST);
	/* a new writer reopens the stream and finishes it */
	OPEN(w, n, &cw);
	CHECK_EQ(eshm_write(w, "b", 1, 0), 0);
	CHECK_EQ(eshm_close(w), 0);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 5000), 1);
	CHECK_EQ(buf[0], 'b');
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 5000), ESHM_EOF);
	CHECK_EQ(eshm_close(r), 0);
	CHECK(!t_exists(n));
}

/* A poll (timeout 0) on a full or empty channel neither spins, nor asks
 * the peer to wake it, nor teaches the adaptive spin that spinning fails. */
static void
polls_do_not_spin(void)
{
	const char *n = t_name();
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_BOTH);
	c.capacity = 4096;
	eshm_t *h;
	OPEN(h, n, &c);
	char buf[64] = {0};
	while (eshm_write(h, buf, sizeof buf, 0) == 0)
		;
	int64_t wb = h->spin_w.budget, rb = h->spin_r.budget;
	unsigned wf = h->spin_w.fails;
	for (int i = 0; i < 100; i++) {
		CHECK_EQ(eshm_write(h, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
		CHECK_EQ(eshm_read(h, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	}
	CHECK_EQ(h->spin_w.budget, wb);
	CHECK_EQ(h->spin_w.fails, wf);
	CHECK_EQ(h->spin_r.budget, rb);
	CHECK_EQ(atomic_load(&h->w.c->space_wait), 0);
	CHECK(strstr(eshm_errmsg(h), "no data"));
	CHECK_EQ(eshm_close(h), 0);
}

/* The heartbeat thread publishes the counts under a mutex, and a side
 * about to sleep published its wait under it too: with the heartbeat
 * thread descheduled while it held the mutex, a tap about to sleep was
 * kept off a free CPU for 2.9 ms. A wait never waits for the heartbeat
 * thread: with its mutex held, a read still times out on time. */
struct timed_read {
	eshm_t *h;
	int r;
	sem_t done;
};

static void *
timed_read_main(void *arg)
{
	struct timed_read *a = arg;
	char b[16];
	a->r = eshm_read(a->h, b, sizeof b, 50);
	sem_post(&a->done);
	return NULL;
}

static void
a_wait_never_waits_for_the_heartbeat_thread(void)
{
	const char *n = t_name();
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *w, *r;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	struct timed_read a = {.h = r, .r = 1};
	CHECK_EQ(sem_init(&a.done, 0, 0), 0);
	pthread_mutex_lock(&r->hb_mu); /* the heartbeat thread, stalled in a beat */
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, timed_read_main, &a), 0);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10; /* the read's 50 ms, with room for a loaded machine */
	int got = sem_timedwait(&a.done, &dl);
	pthread_mutex_unlock(&r->hb_mu);
	CHECK_EQ(got, 0);
	pthread_join(th, NULL);
	CHECK_EQ(a.r, ESHM_ETIMEDOUT);
	sem_destroy(&a.done);
	CHECK_EQ(eshm_close(r), 0);
	CHECK_EQ(eshm_close(w), 0);
}

/* eshm_flush that times out says what it waited for: a reader to take the
 * messages still queued, not a full channel. */
static void
flush_timeout_says_what_is_queued(void)
{
	const char *n = t_name();
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	eshm_t *w;
	OPEN(w, n, &c);
	CHECK_EQ(eshm_write(w, "a", 1, 0), 0);
	CHECK_EQ(eshm_write(w, "bc", 2, 0), 0);
	CHECK_EQ(eshm_write(w, "", 0, 0), 0);
	CHECK_EQ(eshm_flush(w, 50), ESHM_ETIMEDOUT);
	CHECK(strstr(eshm_errmsg(w), "3 messages (3 bytes) still queued"));
	CHECK(strstr(eshm_errmsg(w), "no reader is attached"));
	CHECK(!strstr(eshm_errmsg(w), "full"));
	CHECK_EQ(eshm_detach(w, ESHM_DETACH_LOST, NULL), 0);
	CHECK_EQ(eshm_unlink(n, ESHM_UNLINK_PENDING, 0, NULL, NULL), 0);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"descriptors_never_take_0_1_2", descriptors_never_take_0_1_2},
		{"displaced_writer_writes_nothing", displaced_writer_writes_nothing},
		{"displaced_reader_releases_nothing", displaced_reader_releases_nothing},
		{"removed_segment_is_reported_at_detach", removed_segment_is_reported_at_detach},
		{"removed_empty_segment_is_no_loss", removed_empty_segment_is_no_loss},
		{"waiters_notice_removal", waiters_notice_removal},
		{"lost_writer_is_not_end_of_stream", lost_writer_is_not_end_of_stream},
		{"polls_do_not_spin", polls_do_not_spin},
		{"flush_timeout_says_what_is_queued", flush_timeout_says_what_is_queued},
		{"a wait never waits for the heartbeat thread",
		 a_wait_never_waits_for_the_heartbeat_thread},
		{NULL, NULL},
	};
	return t_run(cases, argc, argv);
}
