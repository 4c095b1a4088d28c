/* mkseeds.c - write the fuzzer's seed corpus: real segment files in states
 * worth starting from (empty, full, wrapped, closed, lines, holders set). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eshm.h"

static const char *dir;
static char name[64];
static int n;

/* copy the segment's file into the corpus as it is now */
static void
snap(const char *what)
{
	char src[128], dst[4096], buf[65536];
	snprintf(src, sizeof src, "/dev/shm/eshm_%s", name);
	snprintf(dst, sizeof dst, "%s/seed-%02d-%s", dir, n++, what);
	int in = open(src, O_RDONLY), out = open(dst, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (in < 0 || out < 0) {
		perror(dst);
		exit(1);
	}
	ssize_t r;
	while ((r = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)r) != r)
			exit(1);
	close(in);
	close(out);
}

static eshm_t *
open_role(int role)
{
	struct eshm_config c;
	eshm_config_init(&c);
	c.capacity = 4096;
	c.role = role;
	c.flags = ESHM_KEEP;
	eshm_t *h;
	if (eshm_open(name, &c, &h, NULL))
		exit(1);
	return h;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	dir = argv[1];
	snprintf(name, sizeof name, "mkseeds-%d", (int)getpid());
	eshm_t *m = open_role(ESHM_ROLE_MASTER), *s = open_role(ESHM_ROLE_SLAVE);
	snap("empty-holders-set");
	char msg[1500];
	memset(msg, 'm', sizeof msg);
	eshm_write(m, msg, 10, 0);
	eshm_write(m, msg, 0, 0);
	eshm_write(m, msg, 700, 0);
	snap("messages");
	while (eshm_write(m, msg, 300, 0) == 0)
		;
	snap("full");
	char buf[4096];
	for (int i = 0; i < 50; i++) {
		while (eshm_read(s, buf, sizeof buf, 0) >= 0)
			;
		eshm_write(m, msg, (size_t)(i * 97 % 1400), 0);
	}
	snap("wrapped");
	void *p;
	size_t avail, carried;
	eshm_reserve(m, 1, &p, &avail, 0);
	memcpy(p, "a\nbb\nccc\n", 9);
	eshm_commit_lines(m, 9, '\n', &carried);
	struct eshm_chunk ck;
	eshm_read(s, buf, sizeof buf, 0); /* the 1400... message before */
	eshm_peek_chunk(s, &ck, 1, 0);
	eshm_consume(s, ck.len); /* "a\n" of the delimited record */
	snap("lines-partly-read");
	eshm_write(s, "reply", 5, 0);
	eshm_eos(m);
	snap("closed");
	eshm_close(m);
	eshm_close(s);
	snap("no-holders");
	eshm_unlink(name, ESHM_UNLINK_PENDING | ESHM_UNLINK_KEPT, 0, NULL, NULL);
	return 0;
}
