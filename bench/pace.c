/* pace.c - copy standard input to standard output at a steady rate, for
 * the benchmarks: a writer held to RATE bytes a second evenly, in pieces
 * of at most PIECE bytes, each sent when it is due. pv -L is no such
 * writer: measured here, "pv -L 200M" gave 1 ms windows of 1.8 GB/s
 * (it catches up in bursts). A pace that falls behind (it was not run)
 * catches up by one piece at most, so that no two pieces in a row go
 * faster than RATE: a millisecond's catch-up, as it first had, was a
 * burst at full speed of 850 KB, most of a 1 MiB ring. Sleeps are
 * precise (timer slack 1 ns, not 50 us), and at the end pace says on
 * standard error the rate it kept, with -v.
 *   pace RATE [PIECE]        RATE in bytes/s; PIECE 65536 by default */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static long long
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	char *end;
	int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
	argc -= verbose;
	argv += verbose;
	double rate = argc > 1 ? strtod(argv[1], &end) : 0;
	if (argc < 2 || argc > 3 || *end || rate < 1) {
		fprintf(stderr, "usage: pace [-v] RATE [PIECE]   (RATE in bytes/s)\n");
		return 2;
	}
	size_t piece = argc > 2 ? strtoul(argv[2], &end, 10) : 65536;
	if (argc > 2 && (*end || piece == 0)) {
		fprintf(stderr, "pace: bad piece size: %s\n", argv[2]);
		return 2;
	}
	char *buf = malloc(piece);
	if (!buf) {
		perror("pace");
		return 1;
	}
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	long long catch_up = (long long)((double)piece / rate * 1e9);
	long long start = now_ns(), first = start;
	double sent = 0;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, piece);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("pace: read");
			return 1;
		}
		if (n == 0) {
			double secs = (double)(now_ns() - first) / 1e9;
			if (verbose && secs > 0)
				fprintf(stderr, "pace: %.0f bytes in %.3f s: %.0f bytes/s\n", sent,
					secs, sent / secs);
			return 0;
		}
		long long due = start + (long long)(sent / rate * 1e9), late = now_ns() - due;
		if (late > catch_up)
			start += late - catch_up;
		else if (late < 0) {
			struct timespec ts = {(time_t)(-late / 1000000000LL),
					      (long)(-late % 1000000000LL)};
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				perror("pace: write");
				return 1;
			}
			off += w;
		}
		sent += (double)n;
	}
}
