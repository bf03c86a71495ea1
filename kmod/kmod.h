/* SPDX-License-Identifier: MIT */
/*
 * Which WireGuard the host offers: the kernel module (probed through its generic netlink family,
 * loaded on demand by creating a link) or wireguard-go over /dev/net/tun, and a sentence saying
 * what was chosen and why, or what is missing and how to get it.
 */
#ifndef KMOD_H
#define KMOD_H

#include <stdbool.h>
#include <stddef.h>

struct backend_ops;

enum kmod_mode { KMOD_MODE_AUTO, KMOD_MODE_KERNEL, KMOD_MODE_USERSPACE };

/* Parses "auto", "kernel" or "userspace"; -EINVAL otherwise. */
int kmod_parse_mode(const char *s, enum kmod_mode *out);
/* true when the kernel has WireGuard: the generic netlink family "wireguard" resolves, if need
 * be after creating (and deleting) a throwaway link of kind wireguard to make the kernel load the
 * module. Writes into WHY (LEN bytes) what was found, or what is missing. */
bool kmod_kernel_available(char *why, size_t len);
/* Chooses the backend for MODE (auto: the kernel when available, else wireguard-go) and stores
 * it in *OUT. WG_GO is the wireguard-go program, a path or a name looked up in PATH (NULL:
 * "wireguard-go"). Writes one sentence into REASON (LEN bytes) saying what was chosen and why,
 * or on -ENOTSUP what is missing and what to do. */
int kmod_choose_backend(enum kmod_mode mode, const char *wg_go, const struct backend_ops **out,
			char *reason, size_t len);
/* 0 when the backend MODE names (kernel or userspace; auto means kernel) can run on this host
 * now; otherwise -ENOTSUP and WHY (LEN bytes) says what is missing and what to do. WG_GO as
 * for kmod_choose_backend. */
int kmod_backend_usable(enum kmod_mode mode, const char *wg_go, char *why, size_t len);

#endif
