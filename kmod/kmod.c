// SPDX-License-Identifier: MIT
#include "kmod.h"

#include "backend.h"
#include "genl_wg.h"
#include "rtnl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define KMOD_TEXT_LEN	  256
#define KMOD_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define KMOD_KERNEL_HINT                                                                  \
	"use Linux 5.6 or later built with CONFIG_WIREGUARD, install the wireguard-dkms " \
	"(backport) module"

static const char *const mode_names[] = { "auto", "kernel", "userspace" };

int kmod_parse_mode(const char *s, enum kmod_mode *out)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(s, mode_names[i])) {
			*out = (enum kmod_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int family_probe(void)
{
	struct genl_wg wg;
	int ret;

	ret = genl_wg_open(&wg, NULL);
	if (!ret)
		genl_wg_close(&wg);
	return ret;
}

static bool modules_dep_has_wireguard(const char *path)
{
	char line[512];
	bool found = false;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/wireguard.ko") != NULL;
	fclose(f);
	return found;
}

/* Says why the module did not load, as far as the file system tells. */
static void module_hint(char *hint, size_t len)
{
	char path[PATH_MAX];
	struct utsname uts;

	if (!access("/sys/module/wireguard", F_OK)) {
		snprintf(hint, len, "module wireguard is loaded but registered no netlink family");
		return;
	}
	if (uname(&uts) < 0) {
		snprintf(hint, len, "/sys/module/wireguard absent");
		return;
	}
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", uts.release);
	if (access(path, R_OK))
		snprintf(hint, len, "/sys/module/wireguard absent, no /lib/modules/%s",
			 uts.release);
	else if (modules_dep_has_wireguard(path))
		snprintf(hint, len,
			 "/sys/module/wireguard absent although wireguard.ko is installed for "
			 "kernel %s (module loading disabled?)",
			 uts.release);
	else
		snprintf(hint, len,
			 "/sys/module/wireguard absent, no wireguard.ko for kernel %s "
			 "(CONFIG_WIREGUARD not set?)",
			 uts.release);
}

bool kmod_kernel_available(char *why, size_t len)
{
	char probe[IFNAMSIZ], hint[KMOD_TEXT_LEN], family[KMOD_TEXT_LEN];
	int family_ret, link_ret;

	family_ret = family_probe();
	if (!family_ret) {
		snprintf(why, len, "generic netlink family wireguard present");
		return true;
	}
	/* Creating a link makes the kernel request the module by its rtnl-link alias. */
	snprintf(probe, sizeof(probe), "wgprobe%u", (unsigned)getpid() % 100000000u);
	link_ret = rtnl_link_create_wireguard(probe, 0);
	if (!link_ret)
		rtnl_link_delete(probe);
	if (!family_probe()) {
		snprintf(why, len,
			 "generic netlink family wireguard present after loading the module");
		return true;
	}
	module_hint(hint, sizeof(hint));
	if (family_ret == -EPROTONOSUPPORT)
		snprintf(family, sizeof(family), "no generic netlink family 'wireguard'");
	else
		snprintf(family, sizeof(family), "generic netlink unusable (%s)",
			 strerror(-family_ret));
	if (link_ret)
		snprintf(why, len,
			 "%s, module not loadable: creating a wireguard link failed (%s), %s",
			 family, strerror(-link_ret), hint);
	else
		snprintf(why, len, "%s, although a wireguard link could be created, %s", family,
			 hint);
	return false;
}

static bool is_executable(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

/* Resolves PROG (a path, or a name looked up in PATH) into PATH_OUT. */
static int program_find(const char *prog, char *path_out, size_t len)
{
	const char *dirs = getenv("PATH"), *end;
	int n;

	if (strchr(prog, '/')) {
		snprintf(path_out, len, "%s", prog);
		return is_executable(prog) ? 0 : -ENOENT;
	}
	if (!dirs || !*dirs)
		dirs = KMOD_DEFAULT_PATH;
	for (;; dirs = end + 1) {
		end = strchrnul(dirs, ':');
		n = snprintf(path_out, len, "%.*s/%s", end == dirs ? 1 : (int)(end - dirs),
			     end == dirs ? "." : dirs, prog);
		if (n > 0 && (size_t)n < len && is_executable(path_out))
			return 0;
		if (!*end)
			return -ENOENT;
	}
}

static int tun_usable(void)
{
	int fd;

	/* Opening creates nothing (that takes TUNSETIFF) but proves the device node and the
	 * cgroup grant a managed plugin needs. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* true when wireguard-go WG_GO and /dev/net/tun are usable; PATH_OUT gets the program, WHY
 * what is missing. */
static bool userspace_available(const char *wg_go, char *path_out, size_t path_len, char *why,
				size_t why_len)
{
	int ret;

	if (program_find(wg_go, path_out, path_len)) {
		if (strchr(wg_go, '/'))
			snprintf(why, why_len,
				 "wireguard-go program %s is not an executable file (install the "
				 "wireguard-go package or fix the --wireguard-go path)",
				 wg_go);
		else
			snprintf(why, why_len,
				 "%s not found in PATH (install the wireguard-go package or pass "
				 "--wireguard-go PATH)",
				 wg_go);
		return false;
	}
	ret = tun_usable();
	if (ret) {
		snprintf(why, why_len,
			 "/dev/net/tun unusable (%s): load the tun module, or grant the device to "
			 "the plugin (linux.devices in config.json)",
			 strerror(-ret));
		return false;
	}
	return true;
}

int kmod_choose_backend(enum kmod_mode mode, const char *wg_go, const struct backend_ops **out,
			char *reason, size_t len)
{
	char kernel_why[KMOD_TEXT_LEN] = "", user_why[KMOD_TEXT_LEN] = "", path[PATH_MAX];

	*out = NULL;
	if (!wg_go || !*wg_go)
		wg_go = "wireguard-go";
	if (mode != KMOD_MODE_USERSPACE) {
		if (kmod_kernel_available(kernel_why, sizeof(kernel_why))) {
			*out = &backend_kernel;
			snprintf(reason, len, "kernel: %s%s", kernel_why,
				 mode == KMOD_MODE_KERNEL ? " (backend forced to kernel)" : "");
			return 0;
		}
		if (mode == KMOD_MODE_KERNEL) {
			snprintf(
				reason, len,
				"kernel backend forced but the kernel has no WireGuard (%s): " KMOD_KERNEL_HINT
				", or set WG_BACKEND=userspace",
				kernel_why);
			return -ENOTSUP;
		}
	}
	if (userspace_available(wg_go, path, sizeof(path), user_why, sizeof(user_why))) {
		*out = &backend_userspace;
		if (mode == KMOD_MODE_USERSPACE)
			snprintf(reason, len, "userspace: backend forced to userspace; using %s",
				 path);
		else
			snprintf(reason, len, "userspace: kernel has no WireGuard (%s); using %s",
				 kernel_why, path);
		return 0;
	}
	if (mode == KMOD_MODE_USERSPACE)
		snprintf(reason, len, "userspace backend forced but %s", user_why);
	else
		snprintf(reason, len,
			 "no WireGuard backend: the kernel has none (%s; needs Linux 5.6+ with "
			 "CONFIG_WIREGUARD or the wireguard-dkms module) and userspace is "
			 "unusable: %s",
			 kernel_why, user_why);
	return -ENOTSUP;
}

int kmod_backend_usable(enum kmod_mode mode, const char *wg_go, char *why, size_t len)
{
	char found[KMOD_TEXT_LEN], path[PATH_MAX];

	if (mode == KMOD_MODE_USERSPACE)
		return userspace_available(wg_go && *wg_go ? wg_go : "wireguard-go", path,
					   sizeof(path), why, len)
			       ? 0
			       : -ENOTSUP;
	if (kmod_kernel_available(found, sizeof(found)))
		return 0;
	snprintf(why, len, "the kernel has no WireGuard (%s): " KMOD_KERNEL_HINT, found);
	return -ENOTSUP;
}
