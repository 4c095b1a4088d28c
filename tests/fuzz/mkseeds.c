/* mkseeds.c - write the fuzzer's seed corpus: each template as it is, and
 * patches aimed at the fields a peer could scribble (see fuzz-segment.c for
 * the input's format). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eshm-int.h"
#include "fuzz-templates.h"

static const char *dir;
static int n;

struct seed {
	unsigned char b[4096];
	size_t len;
};

static void
start(struct seed *s, int tpl)
{
	s->b[0] = (unsigned char)tpl;
	s->len = 1;
}

static void
patch(struct seed *s, size_t off, const void *p, size_t len)
{
	s->b[s->len++] = (unsigned char)off;
	s->b[s->len++] = (unsigned char)(off >> 8);
	s->b[s->len++] = (unsigned char)(off >> 16);
	s->b[s->len++] = (unsigned char)len;
	memcpy(s->b + s->len, p, len);
	s->len += len;
}

static void
patch64(struct seed *s, size_t off, uint64_t v)
{
	patch(s, off, &v, sizeof v);
}

static void
save(const struct seed *s, const char *what)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/seed-%02d-%s", dir, n++, what);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(s->b, 1, s->len, f) != s->len || fclose(f)) {
		perror(p);
		exit(1);
	}
}

#define HDR(f) offsetof(struct eshm_header, f)
#define CHAN(ch, f) (HDR(chan) + (ch) * sizeof(struct eshm_chan) + offsetof(struct eshm_chan, f))
#define GROUP(ch, g, f)                                                                            \
	(HDR(group) + ((ch)*ESHM_GROUPS + (g)) * sizeof(struct eshm_group) +                       \
	 offsetof(struct eshm_group, f))
#define SLOT(s, f) (HDR(slot) + (s) * sizeof(struct eshm_slot) + offsetof(struct eshm_slot, f))
#define BATCH(ch, k, f)                                                                            \
	(HDR(batch) + ((ch)*ESHM_READERS + (k)) * sizeof(struct eshm_batch) +                      \
	 offsetof(struct eshm_batch, f))

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	dir = argv[1];
	static const char *names[FUZZ_NTEMPLATES] = {"empty", "messages",   "full", "wrapped",
						     "lines", "dead-claim", "ended"};
	struct seed s;
	for (int t = 0; t < FUZZ_NTEMPLATES; t++) {
		start(&s, t);
		save(&s, names[t]);
	}
	start(&s, 1);
	patch64(&s, CHAN(0, claim), 3);
	save(&s, "claim-unaligned");
	start(&s, 1);
	patch64(&s, CHAN(0, kept), 1 << 20);
	save(&s, "kept-past-claim");
	start(&s, 3);
	patch64(&s, GROUP(0, 0, release), 16);
	patch64(&s, GROUP(0, 0, skip_pos), 16);
	patch64(&s, GROUP(0, 0, skip_word), UINT64_MAX);
	save(&s, "group-release-skip");
	start(&s, 4);
	patch(&s, GROUP(0, 0, name),
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 64);
	patch64(&s, CHAN(0, ngroups), 200);
	save(&s, "group-name-unterminated");
	start(&s, 5);
	patch64(&s, SLOT(SLOT_W + 5, intent_size), 0xfffffff0);
	save(&s, "dead-claim-size");
	start(&s, 5);
	patch64(&s, SLOT(SLOT_W + 6, intent_pos), 0);
	patch64(&s, SLOT(SLOT_W + 6, pid), 7);
	save(&s, "two-dead-claims");
	start(&s, 1);
	uint32_t x = 9999;
	patch(&s, CHAN(0, excl), &x, 4);
	patch(&s, CHAN(0, nwriters), &x, 4);
	save(&s, "exclusive-slot-out-of-range");
	start(&s, 1);
	uint32_t li[2] = {5000, 1 | 1 << 8};
	patch(&s, ESHM_HEADER_SIZE + 8, li, sizeof li);
	save(&s, "record-past-end");
	start(&s, 6);
	patch64(&s, HDR(created_ns), INT64_MAX);
	patch64(&s, HDR(created_mono), UINT64_MAX);
	patch64(&s, SLOT(0, heartbeat_ns), UINT64_MAX);
	patch64(&s, SLOT(SLOT_R, heartbeat_ns), (uint64_t)INT64_MAX + 1);
	save(&s, "time-overflow");
	/* a dead reader's batch, and one returned, out of range; a group's
	 * next past the claim; counts that say more than there is */
	start(&s, 4);
	patch64(&s, BATCH(0, 0, start), 5);
	patch64(&s, BATCH(0, 0, end), UINT64_MAX);
	patch64(&s, BATCH(0, 0, skip_pos), 5);
	patch64(&s, BATCH(0, 0, skip_word), UINT64_MAX);
	save(&s, "dead-reader-batch");
	start(&s, 3);
	uint32_t ret[2] = {BATCH_RETURNED, 0};
	patch(&s, BATCH(0, 3, state), ret, sizeof ret);
	patch64(&s, BATCH(0, 3, start), 0);
	patch64(&s, BATCH(0, 3, end), UINT64_MAX - 15);
	uint32_t counts[2] = {7, 1};
	patch(&s, GROUP(0, 0, holders), counts, sizeof counts);
	save(&s, "returned-batch-out-of-range");
	start(&s, 1);
	patch64(&s, GROUP(0, 0, next), 1ull << 40);
	save(&s, "group-next-past-claim");
	/* whole files: a header's identity alone, and not a segment at all */
	s.b[0] = 0x80;
	struct eshm_header h = {.magic = ESHM_MAGIC, .format = 1, .header_size = 4096};
	memcpy(s.b + 1, &h, ESHM_ID_SIZE);
	s.len = 1 + ESHM_ID_SIZE;
	save(&s, "format-1-identity");
	memcpy(s.b + 1, "garbage", 7);
	s.len = 8;
	save(&s, "garbage");
	return 0;
}
