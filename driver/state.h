/* SPDX-License-Identifier: MIT */
/*
 * Networks and endpoints on disk: one JSON file per network, <state>/networks/<id>.json, holding
 * its options and endpoints (never a key). Written atomically on every change, read at start.
 */
#ifndef STATE_H
#define STATE_H

#include "network.h"

/* Uses DIR/networks (created 0700) for network files. Borrows DIR (copied). */
int state_init(const char *dir, char *err);
/* Writes NET and its endpoints. */
int state_save(const struct network *net, char *err);
/* Removes the file of network ID; 0 when absent. */
int state_remove(const char *id, char *err);
/* Reads every network file into the registry (network_insert). A file that cannot be read is
 * reported through LOG, naming it, and skipped, so one bad file does not take the others down;
 * temp files of interrupted writes are removed. Returns the number of networks loaded, or -errno
 * when the directory cannot be read. */
int state_load(void);
/* Sets ERR for network ID, which is not loaded: why its file could not be read (-EIO), or that
 * there is no such network (-ENOENT). Returns that code. */
int state_network_error(const char *id, char *err);
/* Forgets what state_load could not read. */
void state_finalise(void);

#endif
