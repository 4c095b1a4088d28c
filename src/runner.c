/* runner.c - eshm-recv --exec: a command per message, up to N at once, released when it succeeds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

/*
 * Messages are taken in order and released in order: a message is
 * released once its job and every job before it are finished (succeeded,
 * or moved to NAME.failed). So at most N messages are taken and not
 * released (the window): a killed runner runs at most those N again.
 * Each job's message is kept in a memfd, its standard input, so that a
 * retry reads it from the start and a failure copies it to NAME.failed.
 */

enum jstate { J_RUNNING, J_DONE };

struct job {
	int fd;         /* memfd: the message, without its delimiter */
	size_t len;     /* its bytes */
	size_t peeked;  /* payload bytes it took in the ring (with a delimiter) */
	int framing;    /* of its writer */
	pid_t pid;      /* its command, while running */
	unsigned tries; /* attempts made */
	enum jstate state;
};

struct runner {
	eshm_t *h;
	const struct runner_opts *o;
	struct job *win; /* the window, a ring of o->jobs entries */
	unsigned first, n, running;
	uint64_t taken, done, failed, retried;
	struct cli_progress pg;
	char failed_name[ESHM_NAME_MAX + 1];
};

static void
note(struct runner *r)
{
	double secs = (double)(cli_now_ms() - r->pg.start) / 1000.0;
	uint64_t n = r->done + r->failed;
	snprintf(r->pg.note, sizeof r->pg.note, "%llu done, %llu failed, %u running, %.1f jobs/s",
		 (unsigned long long)r->done, (unsigned long long)r->failed, r->running,
		 secs > 0 ? (double)n / secs : 0.0);
}

static struct job *
at(struct runner *r, unsigned i)
{
	return &r->win[(r->first + i) % r->o->jobs];
}

/* Start (or start again) job j: sh -c CMD with its message on stdin. */
static void
start(struct runner *r, struct job *j)
{
	char attempt[16];
	snprintf(attempt, sizeof attempt, "%u", j->tries + 1);
	if (lseek(j->fd, 0, SEEK_SET) < 0)
		cli_die(EX_FAIL, "cannot rewind a job's input: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		cli_die(EX_FAIL, "cannot start a job: %s", strerror(errno));
	if (pid == 0) {
		/* what we ignore (SIGPIPE) or catch must not stay so in CMD */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(j->fd, STDIN_FILENO) < 0)
			_exit(127);
		setenv("ESHM_SEGMENT", cli_segment, 1);
		setenv("ESHM_ATTEMPT", attempt, 1);
		execl("/bin/sh", "sh", "-c", r->o->cmd, (char *)NULL);
		_exit(127);
	}
	j->pid = pid;
	j->state = J_RUNNING;
	r->running++;
}

/* Copy job j's message to segment NAME.failed (created as big as ours). */
static bool
to_failed(struct runner *r, struct job *j)
{
	struct eshm_config cfg;
	struct eshm_error err;
	eshm_t *f;
	eshm_config_init(&cfg);
	cfg.role = ESHM_ROLE_MASTER;
	cfg.ends = ESHM_END_WRITE;
	cfg.framing = j->framing == ESHM_FRAMING_RAW ? ESHM_FRAMING_MESSAGE : j->framing;
	cfg.capacity = eshm_capacity(r->h);
	cfg.mode = r->o->mode;
	cfg.group = r->o->group;
	cfg.interrupt = &cli_signal;
	unsigned char *buf = malloc(j->len ? j->len : 1);
	if (!buf)
		cli_die(EX_FAIL, "out of memory");
	bool ok = pread(j->fd, buf, j->len, 0) == (ssize_t)j->len;
	int rc = ok ? eshm_open(r->failed_name, &cfg, &f, &err) : -errno;
	if (rc) {
		cli_warn("cannot keep a failed message in %s: %s", r->failed_name,
			 ok ? cli_err_text(&err, rc) : strerror(-rc));
		free(buf);
		return false;
	}
	rc = eshm_write(f, buf, j->len, -1);
	if (rc)
		cli_warn("cannot keep a failed message in %s: %s", r->failed_name,
			 cli_lib_text(f, rc));
	free(buf);
	int c = eshm_detach(f, rc ? ESHM_DETACH_LOST : 0, &err);
	if (!rc && c && c != -EPERM) {
		cli_warn("%s: %s", r->failed_name, cli_err_text(&err, c));
		rc = c;
	}
	return rc == 0;
}

/* The job of pid ended with status st: done, or tried again, or failed. */
static void
ended(struct runner *r, pid_t pid, int st)
{
	struct job *j = NULL;
	for (unsigned i = 0; i < r->n && !j; i++)
		if (at(r, i)->state == J_RUNNING && at(r, i)->pid == pid)
			j = at(r, i);
	if (!j)
		return; /* not ours (a child of a job's shell?) */
	r->running--;
	j->tries++;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		j->state = J_DONE;
		r->done++;
	} else {
		char why[48];
		if (WIFEXITED(st))
			snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(st));
		else
			snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(st));
		if (j->tries < r->o->attempts && !cli_signal) {
			if (r->o->verbose)
				cli_log("job failed (%s), attempt %u of %u: trying again", why,
					j->tries, r->o->attempts);
			r->retried++;
			start(r, j);
			return;
		}
		if (cli_signal) {
			/* stopped by our signal: not a failure of the message; it
			 * stays unreleased and goes back to the group */
			j->state = J_RUNNING;
			j->pid = 0;
			return;
		}
		if (!to_failed(r, j))
			cli_die(EX_FAIL, "message not released: it stays in %s", cli_segment);
		cli_warn("job failed (%s) %u times: message moved to %s", why, j->tries,
			 r->failed_name);
		j->state = J_DONE;
		r->failed++;
	}
	note(r);
	cli_progress_add(&r->pg, j->len, 1);
}

/* Reap every job that ended; with block, wait for one first. */
static void
reap(struct runner *r, bool block)
{
	int st;
	pid_t pid;
	if (block && r->running && r->o->peers) {
		/* with -v, in slices (SIGCHLD ends one early), to look at
		 * the peers while a long job runs */
		while ((pid = waitpid(-1, &st, WNOHANG)) == 0 && !cli_signal) {
			int ms = peers_slice(r->o->peers, -1);
			struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
			nanosleep(&ts, NULL);
			peers_look(r->o->peers);
		}
		if (pid > 0)
			ended(r, pid, st);
	} else if (block && r->running) {
		pid = waitpid(-1, &st, 0);
		if (pid > 0)
			ended(r, pid, st);
	}
	while (r->running && (pid = waitpid(-1, &st, WNOHANG)) > 0)
		ended(r, pid, st);
}

/* Release the finished jobs at the front of the window; then peek again
 * past those still running (releasing rewinds the peek cursor). */
static void
release(struct runner *r)
{
	size_t bytes = 0;
	unsigned k = 0;
	while (k < r->n && at(r, k)->state == J_DONE) {
		bytes += at(r, k)->peeked;
		close(at(r, k)->fd);
		k++;
	}
	if (!k)
		return;
	r->first = (r->first + k) % r->o->jobs;
	r->n -= k;
	int rc = eshm_consume(r->h, r->n ? bytes : ESHM_ALL);
	if (rc)
		cli_die(EX_FAIL, "%s", cli_lib_text(r->h, rc));
	for (unsigned i = 0; i < r->n; i++) {
		struct eshm_chunk ck;
		rc = eshm_peek_chunk(r->h, &ck, 1, 0);
		if (rc || ck.len != at(r, i)->peeked)
			cli_die(EX_FAIL, "the messages of running jobs changed under us: %s",
				rc ? cli_lib_text(r->h, rc) : "other lengths");
	}
}

/* Take the message peeked into a new job and start it. */
static void
take(struct runner *r, const struct eshm_chunk *ck)
{
	if (ck->framing == ESHM_FRAMING_RAW)
		cli_die(EX_FAIL, "--exec needs messages, and the writer sends a raw stream");
	struct job *j = at(r, r->n);
	memset(j, 0, sizeof *j);
	j->peeked = ck->len;
	j->len = ck->delim >= 0 && ck->len ? ck->len - 1 : ck->len;
	j->framing = ck->framing;
	j->fd = memfd_create("eshm-job", MFD_CLOEXEC);
	if (j->fd < 0)
		cli_die(EX_FAIL, "cannot hold a job's message: %s", strerror(errno));
	for (size_t off = 0; off < j->len;) {
		ssize_t w = write(j->fd, (const char *)ck->data + off, j->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			cli_die(EX_FAIL, "cannot hold a job's message: %s", strerror(errno));
		off += (size_t)w;
	}
	r->n++;
	r->taken++;
	start(r, j);
	note(r);
}

/* Stop: our jobs get our signal, we wait for them; what succeeded is
 * released, the rest goes back to the group when we detach. */
static int
stop(struct runner *r)
{
	for (unsigned i = 0; i < r->n; i++)
		if (at(r, i)->state == J_RUNNING && at(r, i)->pid > 0)
			kill(at(r, i)->pid, cli_signal);
	while (r->running) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno != EINTR)
			break;
		if (pid > 0)
			ended(r, pid, st);
	}
	release(r);
	return EX_FAIL;
}

int
runner_run(eshm_t *h, const struct runner_opts *o, bool *eos)
{
	struct runner r = {.h = h, .o = o};
	r.win = calloc(o->jobs, sizeof *r.win);
	if (!r.win)
		cli_die(EX_FAIL, "out of memory");
	snprintf(r.failed_name, sizeof r.failed_name, "%s.failed", cli_segment);
	cli_progress_init(&r.pg, o->progress);
	note(&r);
	int status = -1;
	int64_t idle_since = cli_now_ms();
	bool at_end = false;
	*eos = false;
	while (status < 0) {
		cli_wake = 0;
		reap(&r, false);
		release(&r);
		if (cli_signal) {
			status = stop(&r);
			break;
		}
		bool room = r.n < o->jobs && !(o->count && r.taken >= o->count) && !at_end;
		if (!room) {
			if (!r.n) {
				status = r.failed ? EX_FAIL : EX_OK;
				*eos = at_end;
				break;
			}
			reap(&r, true);
			continue;
		}
		/* wait for a message; a job that ends (SIGCHLD) interrupts */
		int to = -1;
		if (!r.n && o->timeout_ms >= 0) {
			int64_t left = o->timeout_ms - (cli_now_ms() - idle_since);
			to = left > 0 ? (int)left : 0;
		}
		struct eshm_chunk ck = {0};
		int rc = -EINTR;
		if (!cli_wake) {
			/* in slices with -v, to look at the peers */
			int64_t dl = peers_deadline(to);
			do
				rc = eshm_peek_chunk(h, &ck, 1, peers_slice(o->peers, dl));
			while (peers_again(o->peers, rc, dl));
		}
		if (rc == 0) {
			take(&r, &ck);
			idle_since = cli_now_ms();
			continue;
		}
		if (rc == -EINTR)
			continue;
		if (rc == ESHM_EOF && r.n) {
			/* the end comes after what we hold: finish that first */
			reap(&r, true);
			continue;
		}
		if (rc == ESHM_EOF) {
			if (o->verbose)
				cli_log("end of stream");
			if (o->follow)
				continue;
			at_end = true;
			continue;
		}
		if (rc == ESHM_ETIMEDOUT && r.n) {
			/* what follows went to other readers, or the poll found
			 * nothing: wait for a job */
			reap(&r, true);
			continue;
		}
		if (rc == ESHM_ETIMEDOUT) {
			cli_warn("nothing arrived for %d ms", o->timeout_ms);
			status = r.failed ? EX_FAIL : EX_TIMEOUT;
			break;
		}
		cli_warn("%s", cli_lib_text(h, rc));
		while (r.running)
			reap(&r, true);
		release(&r);
		status = EX_FAIL;
	}
	cli_progress_done(&r.pg);
	/* with failures, the account of them; else a -v line */
	char sum[512];
	snprintf(sum, sizeof sum,
		 "%llu message%s: %llu done, %llu moved to %s after %u attempt%s; %llu %s",
		 (unsigned long long)(r.done + r.failed), r.done + r.failed == 1 ? "" : "s",
		 (unsigned long long)r.done, (unsigned long long)r.failed, r.failed_name,
		 o->attempts, o->attempts == 1 ? "" : "s", (unsigned long long)r.retried,
		 r.retried == 1 ? "retry" : "retries");
	if (r.failed)
		cli_warn("%s", sum);
	else if (o->verbose)
		cli_log("%s", sum);
	for (unsigned i = 0; i < r.n; i++)
		close(at(&r, i)->fd);
	free(r.win);
	return status;
}
