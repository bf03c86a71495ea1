/* SPDX-License-Identifier: MIT */
/*
 * The backends this daemon drives, by name. The default one is chosen at start (WG_BACKEND,
 * kmod.c) and serves every endpoint whose network and options name none; a network or an
 * endpoint may ask for another with the option wg.backend, so that one network can hold kernel
 * and wireguard-go endpoints side by side. A backend is probed when an option asks for it, not at
 * start: a module loaded later is found without a restart.
 */
#ifndef BACKENDS_H
#define BACKENDS_H

#include <stddef.h>

struct backend_ops;

#define BACKENDS_OPTION "wg.backend"
#define BACKENDS_MAX	4

/* 0 when this host can run the backend now; else -errno and WHY (LEN bytes) says what is
 * missing and what to do. */
typedef int (*backends_probe_fn)(char *why, size_t len);

struct backends {
	struct {
		const struct backend_ops *ops;
		backends_probe_fn probe;
	} entries[BACKENDS_MAX]; /* [0] is the default */
	size_t n;
	const char *default_reason;
};

/* Sets the default backend of B and the sentence that explains the choice (borrowed for the
 * life of B), and forgets every other. */
void backends_set_default(struct backends *b, const struct backend_ops *ops, const char *reason);
/* Offers OPS to wg.backend; PROBE tells whether it can run now (NULL: always). Adding the
 * default again only sets its probe. -ENOSPC beyond BACKENDS_MAX. Borrows both. */
int backends_add(struct backends *b, const struct backend_ops *ops, backends_probe_fn probe);
const struct backend_ops *backends_default(const struct backends *b);
/* What EndpointOperInfo says of OPS: why it serves (the default's reason, or the option). */
const char *backends_reason(const struct backends *b, const struct backend_ops *ops);
/* The backend called NAME, runnable now or not (a state file names it); NULL when none is. */
const struct backend_ops *backends_find(const struct backends *b, const char *name);
/* Stores in *OUT the backend option WHAT names with NAME, when this host can run it now.
 * Otherwise -EINVAL (no such backend) or -ENOTSUP (it cannot run here) and a message in ERR
 * (ERRMSG_LEN bytes) that names WHAT and says what was expected or what is missing. */
int backends_choose(const struct backends *b, const char *name, const char *what,
		    const struct backend_ops **out, char *err);

#endif
