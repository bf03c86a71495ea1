// SPDX-License-Identifier: MIT
#include "wggo.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define WGGO_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define WGGO_TUN_FD	  3
#define WGGO_UAPI_FD	  4
/* Where the child keeps its copies before moving them to 3 and 4. */
#define WGGO_FD_HIGH 10

/* The steps of a child before exec, as its failure names them. */
enum wggo_step { STEP_FDS, STEP_PGROUP, STEP_USER, STEP_INOTIFY, STEP_EXEC };

static const char *const step_names[] = {
	[STEP_FDS] = "setting up its descriptors",
	[STEP_PGROUP] = "making its process group",
	[STEP_USER] = "changing to its user and capabilities",
	[STEP_INOTIFY] = "getting an inotify instance",
	[STEP_EXEC] = "running the program",
};

/* What a child reports before exec; an exec that worked closes the pipe instead. */
struct wggo_failure {
	int err;
	enum wggo_step step;
};

int wggo_open_plugin_root(void)
{
	struct stat st;

	if (stat("/", &st))
		return -errno;
	if ((st.st_mode & 0055) == 0055)
		return 0;
	return chmod("/", (st.st_mode & 07777) | 0055) ? -errno : 0;
}

uid_t wggo_uid(const char *ifname)
{
	uint32_t h = 2166136261u;

	if (geteuid() != 0)
		return 0;
	for (const char *p = ifname; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return (uid_t)(WGGO_UID_FIRST + h % WGGO_UIDS);
}

int wggo_memlimit_parse(const char *value, uint64_t *bytes)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = { { "", 0 },     { "B", 0 },    { "KiB", 10 },
		      { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 } };
	unsigned long long n;
	char *end;

	*bytes = 0;
	if (!strcmp(value, "off"))
		return 0;
	if (*value < '0' || *value > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		if (n > (UINT64_MAX >> units[i].shift) || (n << units[i].shift) < WGGO_MEMLIMIT_MIN)
			return -EINVAL;
		*bytes = n << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

/* PROGRAM as a path to exec: itself when it has a slash, else the first match in PATH. */
static int resolve(const char *program, char *out, size_t len)
{
	const char *path = getenv("PATH");
	const char *dir, *colon;
	int n;

	if (strchr(program, '/')) {
		n = snprintf(out, len, "%s", program);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	for (dir = path && *path ? path : WGGO_DEFAULT_PATH; dir; dir = colon ? colon + 1 : NULL) {
		colon = strchr(dir, ':');
		n = snprintf(out, len, "%.*s/%s", colon ? (int)(colon - dir) : (int)strlen(dir),
			     dir, program);
		if (n > 0 && (size_t)n < len && access(out, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/* The child keeps the capabilities a wireguard-go needs across the change of user, and passes
 * them on through exec as ambient capabilities. Raw system calls: glibc's setresuid would try to
 * reach the parent's other threads, which the child does not have. */
static int drop_to_user(uid_t uid)
{
	struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
	static const int keep[] = { CAP_NET_ADMIN, CAP_NET_BIND_SERVICE };

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		data[0].effective |= 1u << keep[i];
		data[0].permitted |= 1u << keep[i];
		data[0].inheritable |= 1u << keep[i];
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || syscall(SYS_setgroups, 0, NULL) ||
	    syscall(SYS_setresgid, uid, uid, uid) || syscall(SYS_setresuid, uid, uid, uid) ||
	    syscall(SYS_capset, &head, data))
		return -errno;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, keep[i], 0, 0))
			return -errno;
	return 0;
}

/* Moves FD to a descriptor >= WGGO_FD_HIGH (close-on-exec), out of the way of 3 and 4. */
static int lift(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, WGGO_FD_HIGH);
}

static void child_fail(int report, int err, enum wggo_step step)
{
	struct wggo_failure f = { .err = err, .step = step };

	if (write(report, &f, sizeof(f)) < 0)
		_exit(126);
	_exit(127);
}

/* In the child of fork(): async-signal-safe calls only. */
static void child_main(const struct wggo_start *s, const char *path, char *const argv[],
		       char *const envp[], int report)
{
	int tun = lift(s->tun_fd), uapi = lift(s->uapi_fd), null, fd;
	sigset_t none;

	report = lift(report);
	if (report < 0 || uapi < 0 || (s->tun_fd >= 0 && tun < 0))
		child_fail(report, errno, STEP_FDS);
	/* The daemon ignores SIGPIPE, and exec keeps what is ignored. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own process group: a ^C meant for a daemon run in a terminal must not kill links. */
	if (setpgid(0, 0))
		child_fail(report, errno, STEP_PGROUP);
	null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || (tun >= 0 && dup2(tun, WGGO_TUN_FD) < 0) ||
	    dup2(uapi, WGGO_UAPI_FD) < 0)
		child_fail(report, errno, false);
	if (tun < 0)
		close(WGGO_TUN_FD);
	if (close_range(WGGO_UAPI_FD + 1, ~0u, CLOSE_RANGE_CLOEXEC))
		child_fail(report, errno, STEP_FDS);
	if (s->uid) {
		int err = drop_to_user(s->uid);

		if (err)
			child_fail(report, -err, STEP_USER);
		/* The instance wireguard-go would fail to get, asked for as its user: the
		 * daemon can then name the limit instead of an exit status. */
		fd = inotify_init1(IN_CLOEXEC);
		if (fd < 0)
			child_fail(report, errno, STEP_INOTIFY);
		close(fd);
	}
	execve(path, argv, envp);
	child_fail(report, errno, STEP_EXEC);
}

/* The environment is built from scratch: the driver's own LOG_LEVEL would otherwise reach
 * wireguard-go, which reads a variable of that name. WG_PROCESS_FOREGROUND also silences its
 * "kernel has WireGuard" banner. */
static int build_env(const struct wggo_start *s, char *env[7], char store[2][PATH_MAX])
{
	const char *path = getenv("PATH");
	size_t n = 0;
	int len;

	env[n++] = "WG_PROCESS_FOREGROUND=1";
	env[n++] = "LOG_LEVEL=error";
	env[n++] = "WG_UAPI_FD=4";
	if (s->tun_fd >= 0)
		env[n++] = "WG_TUN_FD=3";
	len = snprintf(store[0], PATH_MAX, "PATH=%s", path ? path : WGGO_DEFAULT_PATH);
	if (len < 0 || len >= PATH_MAX)
		return -ENAMETOOLONG;
	env[n++] = store[0];
	if (s->memlimit && *s->memlimit) {
		len = snprintf(store[1], PATH_MAX, "GOMEMLIMIT=%s", s->memlimit);
		if (len < 0 || len >= PATH_MAX)
			return -ENAMETOOLONG;
		env[n++] = store[1];
	}
	env[n] = NULL;
	return 0;
}

int wggo_spawn(const struct wggo_start *s, pid_t *pid)
{
	char path[PATH_MAX], env_store[2][PATH_MAX];
	char *argv[] = { (char *)s->program, "-f", (char *)s->ifname, NULL };
	char *envp[7];
	struct wggo_failure f = { 0 };
	int report[2], err, status;
	ssize_t n;

	*pid = 0;
	err = resolve(s->program, path, sizeof(path));
	if (!err)
		err = build_env(s, envp, env_store);
	if (err)
		return err;
	if (pipe2(report, O_CLOEXEC))
		return -errno;
	*pid = fork();
	if (*pid == 0) {
		close(report[0]);
		child_main(s, path, argv, envp, report[1]);
	}
	err = *pid < 0 ? -errno : 0;
	close(report[1]);
	if (err) {
		close(report[0]);
		*pid = 0;
		return err;
	}
	do
		n = read(report[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == 0)
		return 0;
	/* It failed before or at exec: reap it here, it never ran wireguard-go. */
	while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
	if (n != (ssize_t)sizeof(f) || f.err <= 0 || f.step > STEP_EXEC)
		return -EIO;
	if (f.step != STEP_EXEC || f.err != ENOENT)
		log_warn("wireguard-go for %s (user %u): %s: %s", s->ifname, (unsigned)s->uid,
			 step_names[f.step], strerror(f.err));
	return f.step == STEP_INOTIFY && f.err == EMFILE ? -EMFILE : -f.err;
}

static long read_sysctl(const char *path)
{
	char buf[32] = "";
	long v = -1;
	FILE *f = fopen(path, "re");

	if (f && fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

bool wggo_limit_explain(int err, uid_t uid, char *buf, size_t len)
{
	long max = read_sysctl("/proc/sys/fs/inotify/max_user_instances");

	if (err != -EMFILE)
		return false;
	snprintf(buf, len,
		 "wireguard-go (user %u) can get no inotify instance: fs.inotify."
		 "max_user_instances (%ld) is reached for that user; raise it with: sysctl -w "
		 "fs.inotify.max_user_instances=%ld",
		 (unsigned)uid, max, max > 0 ? max * 4 : 1024);
	return true;
}
