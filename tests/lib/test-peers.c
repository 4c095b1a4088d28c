/* test-peers.c - two processes: both directions, killed peers, reconnection, stale holders. */
#include <time.h>

#include "t.h"

/* Poll until the peer state is `want`, up to 5 s; returns the last state. */
static int
wait_state(eshm_t *h, int want)
{
	int st = -1;
	for (int i = 0; i < 500 && (st = eshm_peer_state(h)) != want; i++)
		t_nap_ms(10);
	return st;
}

static void
master_and_slave_talk_both_ways(void)
{
	const char *n = t_name();
	enum { N = 20000 };
	pid_t pid = fork();
	if (pid == 0) {
		struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_BOTH);
		eshm_t *s;
		if (eshm_open(n, &c, &s, NULL))
			_exit(10);
		char buf[64], ack[64];
		for (int i = 0; i < N; i++) {
			ssize_t len = eshm_read(s, buf, sizeof buf - 1, 5000);
			if (len < 0)
				_exit(11);
			buf[len] = '\0';
			int k = snprintf(ack, sizeof ack, "ack %s", buf);
			if (eshm_write(s, ack, (size_t)k, 5000))
				_exit(12);
		}
		_exit(eshm_close(s) ? 13 : 0);
	}
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_BOTH);
	eshm_t *m;
	OPEN(m, n, &c);
	char buf[64], want[64];
	/* requests run ahead of acknowledgements to fill both rings */
	int acked = 0;
	for (int i = 0; i < N; i++) {
		int k = snprintf(buf, sizeof buf, "hello %d", i);
		CHECK_EQ(eshm_write(m, buf, (size_t)k, 5000), 0);
		if (i % 7 == 6) {
			while (acked <= i - 3) {
				ssize_t len = eshm_read(m, buf, sizeof buf, 5000);
				k = snprintf(want, sizeof want, "ack hello %d", acked);
				CHECK_EQ(len, k);
				CHECK(!memcmp(buf, want, (size_t)k));
				acked++;
			}
		}
	}
	while (acked < N) {
		ssize_t len = eshm_read(m, buf, sizeof buf, 5000);
		int k = snprintf(want, sizeof want, "ack hello %d", acked);
		CHECK_EQ(len, k);
		CHECK(!memcmp(buf, want, (size_t)k));
		acked++;
	}
	CHECK_EQ(eshm_read(m, buf, sizeof buf, 5000), ESHM_EOF);
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(eshm_close(m), 0);
	CHECK(!t_exists(n));
}

/* child: write count numbered messages, then wait to be killed */
static pid_t
spawn_writer(const char *n, int from, int count, int stay)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
		eshm_t *w;
		if (eshm_open(n, &c, &w, NULL))
			_exit(10);
		char buf[32];
		for (int i = from; i < from + count; i++) {
			int k = snprintf(buf, sizeof buf, "%d", i);
			if (eshm_write(w, buf, (size_t)k, 5000))
				_exit(11);
		}
		if (stay)
			for (;;)
				pause();
		_exit(eshm_close(w) ? 12 : 0);
	}
	return pid;
}

static void
reader_reconnects_after_writer_killed(void)
{
	const char *n = t_name();
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *r;
	OPEN(r, n, &c);
	CHECK_EQ(eshm_peer_state(r), ESHM_PEER_NONE);
	pid_t w1 = spawn_writer(n, 0, 1000, 1);
	char buf[32];
	for (int i = 0; i < 1000; i++) {
		ssize_t len = eshm_read(r, buf, sizeof buf - 1, 5000);
		CHECK(len > 0);
		buf[len] = '\0';
		CHECK_EQ(atoi(buf), i);
	}
	CHECK_EQ(wait_state(r, ESHM_PEER_ALIVE), ESHM_PEER_ALIVE);
	/* a holder publishes its counts with its heartbeat: wait for them, so
	 * that the kill does not take the last heartbeat's worth with it */
	struct eshm_info info;
	for (int i = 0; i < 500; i++) {
		CHECK_EQ(eshm_stats(r, &info), 0);
		if (info.chan[0].msgs_in == 1000)
			break;
		t_nap_ms(10);
	}
	CHECK_EQ(info.chan[0].msgs_in, 1000);
	kill(w1, SIGKILL);
	waitpid(w1, NULL, 0);
	/* the kernel dropped its lock: dead at once, not after a timeout */
	CHECK_EQ(eshm_peer_state(r), ESHM_PEER_DEAD);
	pid_t w2 = spawn_writer(n, 1000, 1000, 0);
	for (int i = 1000; i < 2000; i++) {
		ssize_t len = eshm_read(r, buf, sizeof buf - 1, 5000);
		CHECK(len > 0);
		buf[len] = '\0';
		CHECK_EQ(atoi(buf), i);
	}
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 5000), ESHM_EOF);
	int status;
	waitpid(w2, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(eshm_stats(r, &info), 0);
	CHECK_EQ(info.chan[0].writer.generation, 2);
	CHECK_EQ(info.chan[0].msgs_in, 2000);
	eshm_close(r);
	CHECK(!t_exists(n));
}

static void
writer_lost_after_retries(void)
{
	const char *n = t_name();
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	c.max_retries = 5;
	c.retry_ms = 20;
	eshm_t *r;
	OPEN(r, n, &c);
	pid_t w = spawn_writer(n, 0, 3, 1);
	char buf[32];
	for (int i = 0; i < 3; i++)
		CHECK(eshm_read(r, buf, sizeof buf, 5000) > 0);
	kill(w, SIGKILL);
	waitpid(w, NULL, 0);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 10000), ESHM_EWRITERLOST);
	CHECK(strstr(eshm_errmsg(r), "writer lost") != NULL);
	eshm_close(r);
}

/* Run fn(n) in a child; once it returns, kill the child with SIGKILL, so
 * that it dies holding whatever it held then. 0 if fn succeeded. */
static int
run_then_kill(int (*fn)(const char *n), const char *n)
{
	int pfd[2];
	if (pipe(pfd))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		char ok = fn(n) == 0 ? 'y' : 'n';
		if (write(pfd[1], &ok, 1) != 1)
			_exit(11);
		for (;;)
			pause();
	}
	close(pfd[1]);
	char ok = 'n';
	ssize_t got = read(pfd[0], &ok, 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pfd[0]);
	return got == 1 && ok == 'y' ? 0 : -1;
}

/* read "first", then peek "second" without releasing it */
static int
read_one_peek_one(const char *n)
{
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *r;
	char buf[32];
	const void *p;
	size_t len;
	if (eshm_open(n, &c, &r, NULL) || eshm_read(r, buf, sizeof buf, 0) != 5)
		return -1;
	return eshm_peek(r, &p, &len, 0);
}

static void
killed_reader_leaves_unreleased_message(void)
{
	const char *n = t_name();
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	eshm_t *w;
	OPEN(w, n, &c);
	CHECK_EQ(eshm_write(w, "first", 5, 0), 0);
	CHECK_EQ(eshm_write(w, "second", 6, 0), 0);
	CHECK_EQ(run_then_kill(read_one_peek_one, n), 0);
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *r;
	OPEN(r, n, &rc);
	char buf[32];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 6);
	CHECK(!memcmp(buf, "second", 6));
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	eshm_close(w);
	eshm_close(r);
}

/* read "first" and nothing more */
static int
read_first(const char *n)
{
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *r;
	char buf[32];
	if (eshm_open(n, &c, &r, NULL) || eshm_read(r, buf, sizeof buf, 0) != 5)
		return -1;
	return 0;
}

/* a reader killed after the last message and started again once its writer
 * has left still gets the end of the stream: the mark keeps the segment */
static void
end_mark_waits_for_a_killed_reader(void)
{
	const char *n = t_name();
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	eshm_t *w;
	OPEN(w, n, &c);
	CHECK_EQ(eshm_write(w, "first", 5, 0), 0);
	CHECK_EQ(run_then_kill(read_first, n), 0);
	eshm_close(w);
	CHECK(t_exists(n));
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *r;
	OPEN(r, n, &rc);
	char buf[32];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_EOF);
	eshm_close(r);
	CHECK(!t_exists(n));
}

/* write "whole", then half of a reserved message that is never committed */
static int
write_one_and_a_half(const char *n)
{
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	eshm_t *w;
	void *p;
	size_t avail;
	if (eshm_open(n, &c, &w, NULL) || eshm_write(w, "whole", 5, 0) ||
	    eshm_reserve(w, 100, &p, &avail, 0))
		return -1;
	memset(p, 'h', 50);
	return 0;
}

static void
killed_writer_leaves_no_partial_message(void)
{
	const char *n = t_name();
	CHECK_EQ(run_then_kill(write_one_and_a_half, n), 0);
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	c.max_retries = 1;
	c.retry_ms = 10;
	eshm_t *r;
	OPEN(r, n, &c);
	char buf[128];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 5);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	/* a new writer continues the channel cleanly */
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	eshm_t *w;
	OPEN(w, n, &wc);
	CHECK_EQ(eshm_write(w, "next", 4, 0), 0);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 4);
	CHECK(!memcmp(buf, "next", 4));
	eshm_close(w);
	eshm_close(r);
}

static void
stopped_holder_is_stale_and_only_taken_over_explicitly(void)
{
	const char *n = t_name();
	int pfd[2];
	CHECK_EQ(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
		c.stale_threshold_ms = 50;
		c.flags |= ESHM_EXCLUSIVE; /* sharing writers are never displaced */
		eshm_t *w;
		if (eshm_open(n, &c, &w, NULL))
			_exit(10);
		if (write(pfd[1], "x", 1) != 1)
			_exit(11);
		/* fill the channel, then wait for space: after SIGCONT the
		 * wait must notice that the end was taken over */
		char buf[1000] = {0};
		int r;
		while ((r = eshm_write(w, buf, sizeof buf, 0)) == 0)
			;
		r = eshm_write(w, buf, sizeof buf, 20000);
		_exit(r == ESHM_ETAKEN ? 0 : 20);
	}
	char x;
	CHECK_EQ(read(pfd[0], &x, 1), 1);
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *r;
	OPEN(r, n, &c);
	CHECK_EQ(wait_state(r, ESHM_PEER_ALIVE), ESHM_PEER_ALIVE);
	kill(pid, SIGSTOP);
	CHECK_EQ(wait_state(r, ESHM_PEER_STALE), ESHM_PEER_STALE);
	/* stale is not free */
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	eshm_t *w2;
	struct eshm_error e;
	CHECK_EQ(eshm_open(n, &wc, &w2, &e), ESHM_EBUSY);
	CHECK(strstr(e.what, "stale") != NULL);
	wc.flags |= ESHM_EXCLUSIVE;
	CHECK_EQ(eshm_open(n, &wc, &w2, &e), ESHM_EBUSY);
	CHECK(strstr(e.what, "stale") != NULL);
	wc.flags |= ESHM_TAKEOVER;
	OPEN(w2, n, &wc);
	kill(pid, SIGCONT);
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	close(pfd[0]);
	close(pfd[1]);
	eshm_close(w2);
	eshm_close(r);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"master_and_slave_talk_both_ways", master_and_slave_talk_both_ways},
		{"end_mark_waits_for_a_killed_reader", end_mark_waits_for_a_killed_reader},
		{"reader_reconnects_after_writer_killed", reader_reconnects_after_writer_killed},
		{"writer_lost_after_retries", writer_lost_after_retries},
		{"killed_reader_leaves_unreleased_message",
		 killed_reader_leaves_unreleased_message},
		{"killed_writer_leaves_no_partial_message",
		 killed_writer_leaves_no_partial_message},
		{"stopped_holder_is_stale_and_only_taken_over_explicitly",
		 stopped_holder_is_stale_and_only_taken_over_explicitly},
		{NULL, NULL},
	};
	return t_run(cases, argc, argv);
}
