/* fuzz-templates.h - the real segments the fuzzer's inputs patch, made with
 * the library at start-up (see fuzz-segment.c); mkseeds.c aims its seeds at
 * them. */
#ifndef FUZZ_TEMPLATES_H
#define FUZZ_TEMPLATES_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eshm-int.h"

struct fuzz_template {
	unsigned char *bytes;
	size_t size;
};

enum {
	TPL_EMPTY,      /* holders attached, nothing written */
	TPL_MESSAGES,   /* three writers' messages, interleaved */
	TPL_FULL,       /* m2s full */
	TPL_WRAPPED,    /* many laps, with padding */
	TPL_LINES,      /* a delimited record partly released */
	TPL_DEAD_CLAIM, /* a dead writer's claim, never committed */
	TPL_ENDED,      /* every writer finished: the stream ended */
	FUZZ_NTEMPLATES
};

static inline int
fuzz_snap(const char *n, struct fuzz_template *t)
{
	char p[128];
	snprintf(p, sizeof p, "/dev/shm/eshm_%s", n);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	t->size = (size_t)st.st_size;
	t->bytes = malloc(t->size);
	ssize_t r = t->bytes ? pread(fd, t->bytes, t->size, 0) : -1;
	close(fd);
	return r == (ssize_t)t->size ? 0 : -1;
}

static inline eshm_t *
fuzz_open(const char *n, int role, unsigned ends)
{
	struct eshm_config c;
	eshm_config_init(&c);
	c.capacity = 4096;
	c.role = role;
	c.ends = ends;
	c.flags = ESHM_KEEP;
	eshm_t *h;
	return eshm_open(n, &c, &h, NULL) ? NULL : h;
}

/* A claim of size bytes at the end of m2s, announced by a writer slot whose
 * holder is gone: what a writer killed between claim and commit leaves. */
static inline void
fuzz_dead_claim(struct fuzz_template *t, uint32_t size)
{
	struct eshm_header *hdr = (struct eshm_header *)t->bytes;
	struct eshm_chan *c = &hdr->chan[CH_M2S];
	uint64_t claim = c->claim, cap = hdr->chan_cap[CH_M2S];
	if (claim + size - c->kept > cap || size > cap - claim % cap)
		return;
	struct eshm_slot *s = &hdr->slot[SLOT_W + 5];
	s->pid = 999999;
	s->intent_pos = claim;
	s->intent_size = size;
	c->claim = claim + size;
	c->nwriters++;
}

/* Make the templates: 0, or -1. */
static inline int
fuzz_templates_make(struct fuzz_template *t)
{
	char n[64];
	snprintf(n, sizeof n, "fuzz-tpl-%d", (int)getpid());
	eshm_t *w[3], *r;
	for (int i = 0; i < 3; i++)
		if (!(w[i] = fuzz_open(n, ESHM_ROLE_MASTER, ESHM_END_WRITE)))
			return -1;
	if (!(r = fuzz_open(n, ESHM_ROLE_SLAVE, ESHM_END_BOTH)))
		return -1;
	int rc = fuzz_snap(n, &t[TPL_EMPTY]);
	static char msg[1500];
	memset(msg, 'm', sizeof msg);
	for (int i = 0; i < 3; i++) {
		eshm_write(w[i], msg, 10, 0);
		eshm_write(w[i], msg, 0, 0);
		eshm_write(w[i], msg, 700, 0);
	}
	eshm_write(r, "reply", 5, 0);
	rc |= fuzz_snap(n, &t[TPL_MESSAGES]);
	while (eshm_write(w[0], msg, 300, 0) == 0)
		;
	rc |= fuzz_snap(n, &t[TPL_FULL]);
	char buf[4096];
	for (int i = 0; i < 50; i++) {
		while (eshm_read(r, buf, sizeof buf, 0) >= 0)
			;
		eshm_write(w[i % 3], msg, (size_t)(i * 97 % 1400), 0);
	}
	rc |= fuzz_snap(n, &t[TPL_WRAPPED]);
	void *p;
	size_t avail, carried;
	eshm_reserve(w[1], 1, &p, &avail, 0);
	memcpy(p, "a\nbb\nccc\n", 9);
	eshm_commit_lines(w[1], 9, '\n', &carried);
	struct eshm_chunk ck;
	eshm_read(r, buf, sizeof buf, 0);
	if (eshm_peek_chunk(r, &ck, 1, 0) == 0)
		eshm_consume(r, ck.len);
	rc |= fuzz_snap(n, &t[TPL_LINES]);
	rc |= fuzz_snap(n, &t[TPL_DEAD_CLAIM]);
	if (!rc)
		fuzz_dead_claim(&t[TPL_DEAD_CLAIM], 64);
	for (int i = 0; i < 3; i++)
		eshm_close(w[i]);
	rc |= fuzz_snap(n, &t[TPL_ENDED]);
	eshm_close(r);
	eshm_unlink(n, ESHM_UNLINK_PENDING | ESHM_UNLINK_KEPT, 0, NULL, NULL);
	return rc ? -1 : 0;
}

#endif
