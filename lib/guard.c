/* guard.c - the segment under us: truncated (SIGBUS on our mappings becomes an error), removed, scribbled. */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eshm-int.h"

/*
 * If another process truncates a segment we have mapped, touching its
 * pages raises SIGBUS, which would kill us. The guard turns that into an
 * error: a process-wide SIGBUS handler, installed at the first eshm_open
 * (unless ESHM_NO_SIGBUS_GUARD), looks the faulting address up in the
 * table of our mappings; if it is ours, it maps an anonymous zero page
 * over the faulting page and marks the mapping tripped, so the access
 * completes, reading zeros that fail the checks every value from shared
 * memory gets, and the operation returns ESHM_ECORRUPT ("truncated").
 * A fault anywhere else goes to the previous disposition.
 *
 * This table and the handler are the library's only process-wide state:
 * a signal handler cannot be per handle.
 */
#define GUARDS 256

static struct guard {
	_Atomic uintptr_t start, end; /* start 0: free */
	_Atomic int tripped;
} guards[GUARDS];

static _Atomic int installed; /* 0 no, 1 installing, 2 yes */
static struct sigaction previous;
static uintptr_t pagesize;

static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	for (int i = 0; i < GUARDS; i++) {
		uintptr_t s = atomic_load_explicit(&guards[i].start, memory_order_acquire);
		if (s && a >= s && a < atomic_load_explicit(&guards[i].end, memory_order_acquire)) {
			void *page = (void *)(a & ~(pagesize - 1));
			if (mmap(page, pagesize, PROT_READ | PROT_WRITE,
				 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
				break;
			atomic_store_explicit(&guards[i].tripped, 1, memory_order_release);
			return;
		}
	}
	/* not ours */
	if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
		previous.sa_sigaction(sig, si, uc);
	} else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
	} else {
		/* the default: returning re-runs the access, which faults again
		 * and now kills the process as it would have */
		signal(SIGBUS, SIG_DFL);
	}
}

static void
install(void)
{
	int expect = 0;
	if (!atomic_compare_exchange_strong(&installed, &expect, 1))
		return;
	pagesize = (uintptr_t)sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &previous);
	atomic_store(&installed, 2);
}

/* Guard [base, base + size); the slot, or -1 if unguarded. */
int
eshm_guard_add(void *base, size_t size, bool handler)
{
	if (handler)
		install();
	for (int i = 0; i < GUARDS; i++) {
		/* claim the slot with a start no address can reach, fill it,
		 * then publish the start: the handler never sees a half-set
		 * slot (start is stored after end, and read before it) */
		uintptr_t zero = 0;
		if (!atomic_compare_exchange_strong(&guards[i].start, &zero, UINTPTR_MAX))
			continue;
		atomic_store_explicit(&guards[i].tripped, 0, memory_order_relaxed);
		atomic_store_explicit(&guards[i].end, (uintptr_t)base + size, memory_order_relaxed);
		atomic_store_explicit(&guards[i].start, (uintptr_t)base, memory_order_release);
		return i;
	}
	return -1;
}

void
eshm_guard_remove(int slot)
{
	if (slot >= 0)
		atomic_store_explicit(&guards[slot].start, 0, memory_order_release);
}

static bool
guard_tripped(int slot)
{
	return slot >= 0 && atomic_load_explicit(&guards[slot].tripped, memory_order_acquire);
}

/* 0, or ESHM_ECORRUPT when the segment was truncated under us. */
int
eshm_truncated(struct eshm *h)
{
	struct stat st;
	if (fstat(h->fd, &st) == 0 && (uint64_t)st.st_size != h->g.size)
		return eshm_seterr(h, ESHM_ECORRUPT,
				   "segment %s was truncated under us (%lld bytes, was %llu)",
				   h->name, (long long)st.st_size, (unsigned long long)h->g.size);
	if (guard_tripped(h->guard))
		return eshm_seterr(h, ESHM_ECORRUPT, "segment %s was truncated under us", h->name);
	return 0;
}

/* A value read from shared memory that cannot be: the segment is corrupt,
 * or reads as zeros where the guard replaced a vanished page. */
int
eshm_corrupt(struct eshm *h, int ch, const char *what, uint64_t a, uint64_t b)
{
	if (eshm_truncated(h))
		return ESHM_ECORRUPT;
	return eshm_seterr(h, ESHM_ECORRUPT, "segment %s is corrupt: channel %s: %s (%llu, %llu)",
			   h->name, eshm_chan_name(ch), what, (unsigned long long)a,
			   (unsigned long long)b);
}

bool
eshm_left_in(struct eshm *h, uint64_t *msgs, uint64_t *bytes)
{
	bool pend = false;
	*msgs = *bytes = 0;
	for (int ch = 0; ch < 2; ch++) {
		struct eshm_backlog b;
		/* a channel we cannot read sensibly keeps the segment */
		if (eshm_chan_backlog(h->fd, h->hdr, ch, &h->g, &b)) {
			pend = true;
			continue;
		}
		*msgs += b.msgs;
		*bytes += b.bytes;
		pend |= b.pending;
	}
	return pend;
}

int
eshm_removed_error(struct eshm *h, uint64_t msgs, uint64_t bytes)
{
	if (msgs)
		return eshm_seterr(h, ESHM_EREMOVED,
				   "segment %s was removed or replaced while in use: %llu "
				   "messages (%llu bytes) left in it were not delivered "
				   "(see REMOVAL in eshm(7))",
				   h->name, (unsigned long long)msgs, (unsigned long long)bytes);
	return eshm_seterr(h, ESHM_EREMOVED,
			   "segment %s was removed or replaced while in use: new peers "
			   "cannot reach it (see REMOVAL in eshm(7))",
			   h->name);
}

/* 0 while our name still leads to our file, else ESHM_EREMOVED (with the
 * messages we hold that nobody can get now). One lstat: asked while we
 * wait and at the end, never per message. */
int
eshm_still_named(struct eshm *h)
{
	struct stat st;
	if (lstat(h->path, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino)
		return 0;
	uint64_t msgs, bytes;
	eshm_left_in(h, &msgs, &bytes);
	return eshm_removed_error(h, msgs, bytes);
}
