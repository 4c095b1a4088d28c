/* liveness.c - whether a slot's holder lives: OFD locks the kernel drops however it dies. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "eshm-int.h"

/*
 * Liveness is an OFD lock, not a pid: the kernel drops the lock when the
 * last descriptor of the open file description goes away, however the
 * holder dies, and a reused pid cannot fake it. Holders take a read lock on
 * the byte of their slot; observers ask F_OFD_GETLK whether a write lock
 * would conflict. Read locks (not write locks) let an explicit takeover
 * coexist with a stopped holder. A process never sees its own locks
 * through the descriptor that holds them (eshm_stats looks through another).
 */

/* A slot in [first, first + n) whose holder lives (any one: the kernel
 * reports one conflicting lock), or -1, or a negative errno. One system
 * call whatever n is. */
int
eshm_locked_in(int fd, int first, int n)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = ESHM_LOCK_BASE + first,
		.l_len = n,
	};
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	if (fl.l_type == F_UNLCK)
		return -1;
	/* a lock over several bytes is not ours: report the first of them in range */
	int s = (int)(fl.l_start - ESHM_LOCK_BASE);
	return s < first ? first : s;
}

int
eshm_end_probe(int fd, int slot)
{
	int r = eshm_locked_in(fd, slot, 1);
	return r == -1 ? 0 : r < 0 ? r : 1;
}

/* State of one slot as seen through fd (which must not hold it). */
int
eshm_end_state(int fd, const struct eshm_header *hdr, int slot, int64_t now)
{
	const struct eshm_slot *s = &hdr->slot[slot];
	int locked = eshm_end_probe(fd, slot);
	uint32_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
	if (locked <= 0)
		return pid ? ESHM_PEER_DEAD : ESHM_PEER_NONE;
	uint64_t hb = atomic_load_explicit(&s->heartbeat_ns, memory_order_relaxed);
	uint32_t stale = atomic_load_explicit(&s->stale_ms, memory_order_relaxed);
	if (stale == 0)
		stale = 100;
	if (eshm_age_ns(now, hb) > (int64_t)stale * 1000000)
		return ESHM_PEER_STALE;
	return ESHM_PEER_ALIVE;
}

/* A live reader of channel ch, any one, or -1. */
int
eshm_live_reader(int fd, int ch)
{
	int r = eshm_locked_in(fd, ch * SLOTS_PER_CHAN + SLOT_R, ESHM_READERS);
	return r < 0 ? -1 : r;
}

bool
eshm_any_live(int fd)
{
	return eshm_locked_in(fd, 0, NSLOTS) != -1;
}

/* Take (F_RDLCK) or drop (F_UNLCK) the lock of a slot: 0 or -errno. */
int
eshm_slot_lock(int fd, int slot, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = ESHM_LOCK_BASE + slot,
		.l_len = 1,
	};
	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}
