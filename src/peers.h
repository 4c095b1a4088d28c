/* peers.h - eshm-send and eshm-recv -v: the other holders of the channel, watched for changes. */
#ifndef PEERS_H
#define PEERS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

/*
 * With -v, a tool says when a holder of its channel comes, goes, dies,
 * goes stale or comes back, or is taken over, one cli_log line each:
 *   writer 1234 joined           reader 1234 joined
 *   writer 1234 ended its stream reader 1234 left
 *   writer 1234 lost             reader 1234 lost
 *   writer 1234 stale (no heartbeat for 250 ms)
 *   writer 1234 back
 *   writer 1234 taken over by 5678[ (this process)]
 * A reader tells of the writers of its channel and of the other readers
 * of its group; a tap of the writers; a writer of the readers, naming
 * their group unless it is the unnamed one. Our own end taken over is
 * told by the failure that follows, not here.
 *
 * The tool looks (eshm_stats) at most every 100 ms, when its loop passes
 * by peers_look or waits through peers_slice: nothing is asked per
 * message. A holder that comes and goes between two looks is not seen.
 * Nor is how a holder went when its place was cleared before we looked:
 * a slot freed by its holder and one cleared after its holder died look
 * the same (a dead reader is cleared by another reader of its group once
 * that one idles 50 ms; a dead writer by the next writer when no other
 * lives), and are told as left or ended.
 */
struct peers;

/* Before eshm_open with cfg: NULL-safe watcher of what cfg will hold
 * (ends, role, consumer_group, ESHM_TAP). It looks at segment name now,
 * if it exists, so that the first look after eshm_open tells who came
 * meanwhile and a takeover eshm_open made. */
struct peers *peers_new(const char *name, const struct eshm_config *cfg);
/* After eshm_open: watch through h from now on, telling what changed
 * since peers_new. */
void peers_start(struct peers *p, eshm_t *h);
/* Look if it is time: one clock read otherwise. p may be NULL (no -v):
 * then this, and the calls below, cost nothing and change nothing. */
void peers_look(struct peers *p);
void peers_free(struct peers *p);

/*
 * A wait of timeout_ms (-1: for ever) cut into slices that end when it is
 * time to look, so that a tool blocked for long still tells:
 *
 *	int64_t dl = peers_deadline(timeout_ms);
 *	do
 *		r = eshm_peek_chunk(h, &ck, max, peers_slice(p, dl));
 *	while (peers_again(p, r, dl));
 *
 * Without a watcher it is one wait of the whole timeout.
 */
int64_t peers_deadline(int timeout_ms);
/* The timeout for the next slice, in ms (-1: for ever). */
int peers_slice(struct peers *p, int64_t deadline);
/* After a slice ended with r: looks if it is time; true when r is the
 * slice's own timeout and the deadline is still ahead. */
bool peers_again(struct peers *p, int r, int64_t deadline);

#endif
