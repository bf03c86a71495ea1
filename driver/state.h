/* SPDX-License-Identifier: MIT */
/*
 * Networks and endpoints on disk: one JSON file per network, <state>/networks/<id>.json, holding
 * its options and endpoints (never a key). Written atomically on every change, read at start.
 */
#ifndef STATE_H
#define STATE_H

#include <limits.h>

struct network;
struct state_unreadable;
struct wgd;

struct state {
	char dir[PATH_MAX - 512];	     /* room for "/<file name>" in a PATH_MAX buffer */
	char networks_dir[PATH_MAX - 256];   /* dir/networks */
	struct state_unreadable *unreadable; /* files state_load could not read */
};

/* Uses DIR/networks for network files; DIR and it are created 0700, and refused when they are
 * not directories of ours that only we can use. Borrows DIR (copied). */
int state_init(struct state *st, const char *dir, char *err);
/* The path of NAME (a file the daemon keeps beside networks/) into OUT (PATH_MAX bytes). */
void state_file(const struct state *st, const char *name, char *out);
/* Writes NET and its endpoints. The daemon's lock is held. */
int state_save(const struct network *net, char *err);
/* Removes the file of network ID; 0 when absent. */
int state_remove(struct wgd *d, const char *id, char *err);
/* Reads every network file into D (network_insert). Each file is checked as the API checks a
 * request (IDs, addresses, MTU, references, backends); a file that fails is reported through
 * LOG, naming it, and skipped, so one bad file does not take the others down; temp files of
 * interrupted writes are removed. Returns the number of networks loaded, or -errno when the
 * directory cannot be read. */
int state_load(struct wgd *d);
/* Sets ERR for network ID, which is not loaded: why its file could not be read (-EIO), or that
 * there is no such network (-ENOENT). Returns that code. */
int state_network_error(const struct wgd *d, const char *id, char *err);
/* Forgets what state_load could not read. */
void state_finalise(struct state *st);

#endif
