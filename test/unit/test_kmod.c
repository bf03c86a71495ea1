// SPDX-License-Identifier: MIT
#include "kmod/kmod.c"

#include "unit.h"

#include <sched.h>
#include <sys/stat.h>

static char tmp_dir[64];

/* The probe may create a throwaway link: keep it out of the host namespace. Without root the
 * test stays where it is, where it cannot change anything either. */
UNIT_TEST(enter_private_netns)
{
	if (unshare(CLONE_NEWNET) < 0)
		fprintf(stderr, "  note: unshare(CLONE_NEWNET): %s; probing in place\n",
			strerror(errno));
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/unit-kmod-XXXXXX");
	CHECK(mkdtemp(tmp_dir) != NULL);
}

static bool module_loaded(void)
{
	return access("/sys/module/wireguard", F_OK) == 0;
}

UNIT_TEST(parse_mode)
{
	enum kmod_mode mode = KMOD_MODE_USERSPACE;

	CHECK_EQ_INT(kmod_parse_mode("auto", &mode), 0);
	CHECK_EQ_INT(mode, KMOD_MODE_AUTO);
	CHECK_EQ_INT(kmod_parse_mode("kernel", &mode), 0);
	CHECK_EQ_INT(mode, KMOD_MODE_KERNEL);
	CHECK_EQ_INT(kmod_parse_mode("userspace", &mode), 0);
	CHECK_EQ_INT(mode, KMOD_MODE_USERSPACE);
	CHECK_EQ_INT(kmod_parse_mode("Kernel", &mode), -EINVAL);
	CHECK_EQ_INT(kmod_parse_mode("", &mode), -EINVAL);
	CHECK_EQ_INT(kmod_parse_mode("user", &mode), -EINVAL);
}

/* This build host has no WireGuard in its kernel; in the VM suite the module is there. */
UNIT_TEST(kernel_available_says_why)
{
	char why[512] = "";
	bool available = kmod_kernel_available(why, sizeof(why));

	fprintf(stderr, "  kernel: %s: %s\n", available ? "available" : "unavailable", why);
	CHECK(*why);
	if (available) {
		CHECK_STR_CONTAINS(why, "generic netlink family wireguard present");
		return;
	}
	CHECK(!module_loaded());
	CHECK_STR_CONTAINS(why, "no generic netlink family 'wireguard'");
	CHECK_STR_CONTAINS(why, "module not loadable");
	CHECK_STR_CONTAINS(why, "/sys/module/wireguard absent");
}

UNIT_TEST(kernel_available_truncates_safely)
{
	char why[8];

	memset(why, 'x', sizeof(why));
	kmod_kernel_available(why, sizeof(why));
	CHECK(memchr(why, '\0', sizeof(why)) != NULL);
}

UNIT_TEST(kernel_forced_without_wireguard_is_enotsup)
{
	const struct backend_ops *ops = &backend_userspace;
	char reason[512] = "";
	int ret =
		kmod_choose_backend(KMOD_MODE_KERNEL, "wireguard-go", &ops, reason, sizeof(reason));

	fprintf(stderr, "  %s\n", reason);
	if (!ret) {
		CHECK(ops == &backend_kernel);
		CHECK_STR_CONTAINS(reason, "kernel: ");
		return;
	}
	CHECK_EQ_INT(ret, -ENOTSUP);
	CHECK(ops == NULL);
	CHECK_STR_CONTAINS(reason, "kernel backend forced but the kernel has no WireGuard");
	CHECK_STR_CONTAINS(reason, "no generic netlink family 'wireguard'");
	CHECK_STR_CONTAINS(reason, "CONFIG_WIREGUARD");
	CHECK_STR_CONTAINS(reason, "wireguard-dkms");
	CHECK_STR_CONTAINS(reason, "WG_BACKEND=userspace");
}

UNIT_TEST(auto_falls_back_to_wireguard_go)
{
	const struct backend_ops *ops = NULL;
	char reason[512] = "", why[256];
	int ret;

	if (kmod_kernel_available(why, sizeof(why)) || access("/usr/bin/wireguard-go", X_OK) ||
	    access("/dev/net/tun", R_OK | W_OK)) {
		fprintf(stderr, "  note: kernel WireGuard present or no wireguard-go; skipped\n");
		return;
	}
	ret = kmod_choose_backend(KMOD_MODE_AUTO, "/usr/bin/wireguard-go", &ops, reason,
				  sizeof(reason));
	fprintf(stderr, "  %s\n", reason);
	CHECK_EQ_INT(ret, 0);
	CHECK(ops == &backend_userspace);
	CHECK(!strncmp(reason, "userspace: kernel has no WireGuard (no generic netlink family",
		       strlen("userspace: kernel has no WireGuard (no generic netlink family")));
	CHECK_STR_CONTAINS(reason, "); using /usr/bin/wireguard-go");
}

static void write_program(const char *name, mode_t mode)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	chmod(path, mode);
}

UNIT_TEST(userspace_program_looked_up_in_path)
{
	const struct backend_ops *ops = NULL;
	char reason[512] = "", path_env[256], *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	int ret;

	write_program("fake-wg-go", 0755);
	write_program("plain-file", 0644);
	snprintf(path_env, sizeof(path_env), "/nonexistent::%s", tmp_dir);
	setenv("PATH", path_env, 1);

	ret = kmod_choose_backend(KMOD_MODE_USERSPACE, "fake-wg-go", &ops, reason, sizeof(reason));
	if (access("/dev/net/tun", R_OK | W_OK) == 0) {
		CHECK_EQ_INT(ret, 0);
		CHECK(ops == &backend_userspace);
		CHECK(!strncmp(reason, "userspace: backend forced to userspace; using ",
			       strlen("userspace: backend forced to userspace; using ")));
		CHECK_STR_CONTAINS(reason, tmp_dir);
		CHECK_STR_CONTAINS(reason, "/fake-wg-go");
	}

	ret = kmod_choose_backend(KMOD_MODE_USERSPACE, "plain-file", &ops, reason, sizeof(reason));
	CHECK_EQ_INT(ret, -ENOTSUP);
	CHECK(ops == NULL);
	CHECK_STR_CONTAINS(reason, "userspace backend forced but plain-file not found in PATH");
	CHECK_STR_CONTAINS(reason, "install the wireguard-go package");

	if (saved)
		setenv("PATH", saved, 1);
	else
		unsetenv("PATH");
	free(saved);
}

UNIT_TEST(userspace_missing_program_is_enotsup)
{
	const struct backend_ops *ops = &backend_kernel;
	char reason[512] = "";
	int ret;

	ret = kmod_choose_backend(KMOD_MODE_USERSPACE, "/nonexistent/wireguard-go", &ops, reason,
				  sizeof(reason));
	fprintf(stderr, "  %s\n", reason);
	CHECK_EQ_INT(ret, -ENOTSUP);
	CHECK(ops == NULL);
	CHECK_STR_CONTAINS(reason, "/nonexistent/wireguard-go is not an executable file");
	CHECK_STR_CONTAINS(reason, "install the wireguard-go package");
}

UNIT_TEST(auto_with_nothing_usable_names_both)
{
	const struct backend_ops *ops = NULL;
	char reason[512] = "", why[256];
	int ret;

	if (kmod_kernel_available(why, sizeof(why)))
		return;
	ret = kmod_choose_backend(KMOD_MODE_AUTO, "no-such-wireguard-go", &ops, reason,
				  sizeof(reason));
	fprintf(stderr, "  %s\n", reason);
	CHECK_EQ_INT(ret, -ENOTSUP);
	CHECK(ops == NULL);
	CHECK_STR_CONTAINS(reason, "no WireGuard backend");
	CHECK_STR_CONTAINS(reason, "no generic netlink family 'wireguard'");
	CHECK_STR_CONTAINS(reason, "no-such-wireguard-go not found in PATH");
}

/* What wg.backend asks of the host: no "forced" and no WG_BACKEND in the advice. */
UNIT_TEST(backend_usable_says_what_is_missing)
{
	char why[512] = "";
	int ret;

	ret = kmod_backend_usable(KMOD_MODE_USERSPACE, "/nonexistent/wireguard-go", why,
				  sizeof(why));
	CHECK_EQ_INT(ret, -ENOTSUP);
	CHECK_STR_CONTAINS(why, "/nonexistent/wireguard-go is not an executable file");
	if (kmod_kernel_available(why, sizeof(why))) {
		CHECK_EQ_INT(kmod_backend_usable(KMOD_MODE_KERNEL, NULL, why, sizeof(why)), 0);
		return;
	}
	ret = kmod_backend_usable(KMOD_MODE_KERNEL, NULL, why, sizeof(why));
	fprintf(stderr, "  %s\n", why);
	CHECK_EQ_INT(ret, -ENOTSUP);
	CHECK(!strncmp(why, "the kernel has no WireGuard (",
		       strlen("the kernel has no WireGuard (")));
	CHECK_STR_CONTAINS(why, "CONFIG_WIREGUARD");
	CHECK(strstr(why, "forced") == NULL && strstr(why, "WG_BACKEND") == NULL);
}

UNIT_TEST(cleanup)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/fake-wg-go", tmp_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/plain-file", tmp_dir);
	unlink(path);
	CHECK_EQ_INT(rmdir(tmp_dir), 0);
}

UNIT_MAIN("kmod", UNIT_CASE(enter_private_netns), UNIT_CASE(parse_mode),
	  UNIT_CASE(kernel_available_says_why), UNIT_CASE(kernel_available_truncates_safely),
	  UNIT_CASE(kernel_forced_without_wireguard_is_enotsup),
	  UNIT_CASE(auto_falls_back_to_wireguard_go),
	  UNIT_CASE(userspace_program_looked_up_in_path),
	  UNIT_CASE(userspace_missing_program_is_enotsup),
	  UNIT_CASE(auto_with_nothing_usable_names_both),
	  UNIT_CASE(backend_usable_says_what_is_missing), UNIT_CASE(cleanup))
