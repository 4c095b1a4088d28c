/* liveness.c - two facts about liveness, measured:
 *   1. how long after SIGKILL of a holder its peer sees it dead;
 *   2. that a live holder is never seen dead while every core is busy
 *      (stale, perhaps: its heartbeat may lag; dead, never).
 *   liveness KILLS LOAD-SECONDS          exit 1 if any false "dead" */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eshm.h"

static double
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static eshm_t *
open_end(const char *name, int role, unsigned ends)
{
	struct eshm_config c;
	eshm_config_init(&c);
	c.role = role;
	c.ends = ends;
	eshm_t *h;
	struct eshm_error e;
	if (eshm_open(name, &c, &h, &e)) {
		fprintf(stderr, "liveness: %s\n", e.what);
		exit(1);
	}
	return h;
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: liveness KILLS LOAD-SECONDS\n");
		return 2;
	}
	int kills = atoi(argv[1]);
	double load_s = atof(argv[2]);
	char name[64];
	snprintf(name, sizeof name, "liveness-%d", (int)getpid());

	/* 1. SIGKILL to "dead", as the peer sees it */
	double *lat = calloc((size_t)kills, sizeof *lat);
	for (int i = 0; i < kills; i++) {
		eshm_t *r = open_end(name, ESHM_ROLE_SLAVE, ESHM_END_READ);
		int p[2];
		if (pipe(p))
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			open_end(name, ESHM_ROLE_MASTER, ESHM_END_WRITE);
			if (write(p[1], "x", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		char x;
		if (read(p[0], &x, 1) != 1)
			return 1;
		close(p[0]);
		close(p[1]);
		double t0 = now_us();
		kill(pid, SIGKILL);
		while (eshm_peer_state(r) != ESHM_PEER_DEAD)
			;
		lat[i] = now_us() - t0;
		waitpid(pid, NULL, 0);
		eshm_close(r);
	}
	qsort(lat, (size_t)kills, sizeof *lat, cmp);
	printf("liveness: SIGKILL to seen dead, %d kills: median %.0f us, p99 %.0f us, max %.0f "
	       "us\n",
	       kills, lat[kills / 2], lat[(int)(kills * 0.99)], lat[kills - 1]);

	/* 2. every core busy, a live pipeline, its holders watched every ms */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t hogs[64];
	int nh = 0;
	for (long i = 0; i < 2 * ncpu && nh < 64; i++)
		if ((hogs[nh++] = fork()) == 0)
			for (volatile unsigned long n = 0;; n++)
				;
	pid_t side[2];
	for (int s = 0; s < 2; s++) {
		if ((side[s] = fork()) == 0) {
			eshm_t *h = open_end(name, s ? ESHM_ROLE_SLAVE : ESHM_ROLE_MASTER,
					     s ? ESHM_END_READ : ESHM_END_WRITE);
			char buf[256] = {0};
			for (;;)
				if ((s ? eshm_read(h, buf, sizeof buf, -1)
				       : eshm_write(h, buf, 64, -1)) < 0)
					_exit(1);
		}
	}
	long samples = 0, dead = 0, stale = 0, seen_both = 0;
	double end = now_us() + load_s * 1e6;
	while (now_us() < end) {
		struct eshm_info info;
		if (eshm_inspect(name, &info, NULL) == 0 && info.valid) {
			const struct eshm_end_info *e[2] = {&info.chan[0].writer,
							    &info.chan[0].reader};
			bool both = true;
			for (int k = 0; k < 2; k++) {
				dead += e[k]->state == ESHM_PEER_DEAD;
				stale += e[k]->state == ESHM_PEER_STALE;
				both &= e[k]->state == ESHM_PEER_ALIVE ||
					e[k]->state == ESHM_PEER_STALE;
			}
			samples++;
			seen_both += both;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < nh; i++)
		kill(hogs[i], SIGKILL);
	for (int s = 0; s < 2; s++)
		kill(side[s], SIGKILL);
	while (wait(NULL) > 0)
		;
	eshm_unlink(name, ESHM_UNLINK_PENDING | ESHM_UNLINK_INVALID | ESHM_UNLINK_KEPT, 0, NULL,
		    NULL);
	printf("liveness: %ld CPU hogs on %ld CPUs for %.0f s, %ld samples of both holders: "
	       "%ld seen dead, %ld seen stale\n",
	       (long)nh, ncpu, load_s, samples, dead, stale);
	return dead || seen_both == 0 ? 1 : 0;
}
