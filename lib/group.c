/* group.c - the consumer groups of a channel: by name, created, and the release point of all. */
#include <stdio.h>
#include <string.h>

#include "eshm-int.h"

/*
 * A group keeps its place while it has no reader: its release point is in
 * the segment. The channel's kept is the release point of all groups, the
 * lowest position any of them still holds; writers may claim up to kept +
 * cap. With no group, nothing is released: kept stays where it is, and a
 * new group starts there (it gets everything still kept).
 *
 * Everything read here comes from shared memory: names are compared as
 * bounded strings, states as the two values they may take.
 */

static bool
group_is(const struct eshm_group *g, const char *name)
{
	if (atomic_load_explicit(&g->state, memory_order_acquire) != GROUP_USED)
		return false;
	char n[sizeof g->name];
	memcpy(n, g->name, sizeof n);
	n[sizeof n - 1] = '\0';
	return strcmp(n, name) == 0;
}

/* The index of group name of channel ch, or -1. */
int
eshm_group_find(struct eshm_header *hdr, int ch, const char *name)
{
	for (int i = 0; i < ESHM_GROUPS; i++)
		if (group_is(&hdr->group[ch][i], name))
			return i;
	return -1;
}

/* Create group name of channel ch, starting at the release point; its
 * index, or -1 when all ESHM_GROUPS are in use. Under the segment's flock. */
int
eshm_group_create(struct eshm_header *hdr, int ch, const char *name)
{
	struct eshm_chan *c = &hdr->chan[ch];
	for (int i = 0; i < ESHM_GROUPS; i++) {
		struct eshm_group *g = &hdr->group[ch][i];
		if (atomic_load_explicit(&g->state, memory_order_acquire) == GROUP_USED)
			continue;
		uint64_t at = atomic_load_explicit(&c->kept, memory_order_acquire);
		memset(g->name, 0, sizeof g->name);
		snprintf(g->name, sizeof g->name, "%s", name);
		atomic_store_explicit(&g->next, at, memory_order_relaxed);
		atomic_store_explicit(&g->release, at, memory_order_relaxed);
		atomic_store_explicit(&g->skip_pos, UINT64_MAX, memory_order_relaxed);
		atomic_store_explicit(&g->skip_word, 0, memory_order_relaxed);
		atomic_store_explicit(&g->eos_epoch, 0, memory_order_relaxed);
		g->created_ns = eshm_now_real();
		atomic_store_explicit(&g->state, GROUP_USED, memory_order_release);
		atomic_fetch_add_explicit(&c->ngroups, 1, memory_order_relaxed);
		return i;
	}
	return -1;
}

/*
 * Group gi of channel ch released everything below pos: store it, and move
 * kept to the lowest release point of all groups. A store (seq_cst) of
 * kept, loaded by writers after they announce that they wait for space
 * (the Dekker pair of wait.c): the caller then looks at space_wait.
 */
void
eshm_group_released(struct eshm_header *hdr, int ch, int gi, uint64_t pos)
{
	struct eshm_chan *c = &hdr->chan[ch];
	atomic_store_explicit(&hdr->group[ch][gi].release, pos, memory_order_release);
	if (atomic_load_explicit(&c->ngroups, memory_order_relaxed) <= 1) {
		atomic_store_explicit(&c->kept, pos, memory_order_seq_cst);
		return;
	}
	uint64_t low = pos;
	for (int i = 0; i < ESHM_GROUPS; i++) {
		struct eshm_group *g = &hdr->group[ch][i];
		if (atomic_load_explicit(&g->state, memory_order_acquire) != GROUP_USED)
			continue;
		uint64_t r = atomic_load_explicit(&g->release, memory_order_acquire);
		if (r < low)
			low = r;
	}
	/* kept only grows: a lower value another releaser computed loses */
	uint64_t k = atomic_load_explicit(&c->kept, memory_order_relaxed);
	while (k < low && !atomic_compare_exchange_weak_explicit(
				  &c->kept, &k, low, memory_order_seq_cst, memory_order_relaxed))
		;
	atomic_thread_fence(memory_order_seq_cst);
}
