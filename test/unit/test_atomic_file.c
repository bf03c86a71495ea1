// SPDX-License-Identifier: MIT
#include "keystore/atomic_file.c"

#include "unit.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>

static char tmp_dir[64];
static char path[PATH_MAX];

static void setup(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/unit-atomic-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/file", tmp_dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  cannot remove %s\n", tmp_dir);
}

static int count_entries(const char *dir)
{
	struct dirent *ent;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((ent = readdir(d)))
		if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static mode_t file_mode(const char *p)
{
	struct stat st;

	return stat(p, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

/* The file's content, or "" (compared as a string: the tests write text). */
static const char *content_of(const char *p)
{
	static char buf[256];
	char *data = NULL;
	size_t len = 0;

	buf[0] = '\0';
	if (atomic_file_read(p, sizeof(buf) - 1, &data, &len) == 0) {
		memcpy(buf, data, len + 1);
		free(data);
	}
	return buf;
}

UNIT_TEST(write_creates_file_with_mode)
{
	mode_t old_umask = umask(022);

	setup();
	CHECK_EQ_INT(atomic_file_write(path, "hello\n", 6, 0600), 0);
	CHECK_EQ_INT(file_mode(path), 0600);
	CHECK(!strcmp(content_of(path), "hello\n"));
	CHECK_EQ_INT(atomic_file_write(path, "x", 1, 0640), 0);
	CHECK_EQ_INT(file_mode(path), 0640);
	CHECK_EQ_INT(count_entries(tmp_dir), 1);
	umask(old_umask);
	teardown();
}

UNIT_TEST(write_replaces_content_without_leftovers)
{
	setup();
	CHECK_EQ_INT(atomic_file_write(path, "first version\n", 14, 0600), 0);
	CHECK_EQ_INT(atomic_file_write(path, "second\n", 7, 0600), 0);
	CHECK(!strcmp(content_of(path), "second\n"));
	CHECK_EQ_INT(atomic_file_write(path, "", 0, 0600), 0);
	CHECK(!strcmp(content_of(path), ""));
	CHECK_EQ_INT(count_entries(tmp_dir), 1);
	teardown();
}

UNIT_TEST(write_into_missing_directory_fails)
{
	char missing[PATH_MAX];

	setup();
	snprintf(missing, sizeof(missing), "%s/nodir/file", tmp_dir);
	CHECK_EQ_INT(atomic_file_write(missing, "x", 1, 0600), -ENOENT);
	CHECK_EQ_INT(count_entries(tmp_dir), 0);
	CHECK_EQ_INT(atomic_file_write("", "x", 1, 0600), -EISDIR);
	CHECK_EQ_INT(atomic_file_write(tmp_dir, "x", 1, 0600) < 0, 1);
	teardown();
}

/* Root ignores directory permissions, so a file size limit makes the write itself fail. */
UNIT_TEST(failed_write_keeps_old_file)
{
	struct rlimit old_limit, small = { 4, 4 };
	void (*old_handler)(int);
	int ret;

	setup();
	CHECK_EQ_INT(atomic_file_write(path, "old\n", 4, 0600), 0);
	getrlimit(RLIMIT_FSIZE, &old_limit);
	small.rlim_max = old_limit.rlim_max;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &small);
	ret = atomic_file_write(path, "a much longer new content\n", 26, 0600);
	setrlimit(RLIMIT_FSIZE, &old_limit);
	signal(SIGXFSZ, old_handler);
	CHECK_EQ_INT(ret, -EFBIG);
	CHECK(!strcmp(content_of(path), "old\n"));
	CHECK_EQ_INT(count_entries(tmp_dir), 1);
	if (geteuid() != 0) {
		chmod(tmp_dir, 0500);
		CHECK_EQ_INT(atomic_file_write(path, "new\n", 4, 0600), -EACCES);
		chmod(tmp_dir, 0700);
		CHECK(!strcmp(content_of(path), "old\n"));
		CHECK_EQ_INT(count_entries(tmp_dir), 1);
	}
	teardown();
}

UNIT_TEST(read_whole_file)
{
	char *data = NULL;
	size_t len = 0;

	setup();
	CHECK_EQ_INT(atomic_file_read(path, 16, &data, &len), -ENOENT);
	CHECK_EQ_INT(atomic_file_write(path, "0123456789", 10, 0600), 0);
	CHECK_EQ_INT(atomic_file_read(path, 10, &data, &len), 0);
	CHECK_EQ_INT(len, 10);
	CHECK(data && !strcmp(data, "0123456789"));
	free(data);
	data = NULL;
	CHECK_EQ_INT(atomic_file_read(path, 9, &data, &len), -EFBIG);
	CHECK(data == NULL);
	teardown();
}

/* /proc files report size 0, so the buffer has to grow while reading. */
UNIT_TEST(read_file_of_unknown_size)
{
	char *data = NULL;
	size_t len = 0;

	CHECK_EQ_INT(atomic_file_read("/proc/self/status", 1 << 20, &data, &len), 0);
	CHECK(len > 64);
	CHECK(data && strlen(data) == len && strstr(data, "Name:"));
	free(data);
	data = NULL;
	CHECK_EQ_INT(atomic_file_read("/proc/self/status", 100, &data, &len), -EFBIG);
	CHECK(data == NULL);
}

/* What a crash between mkostemp and rename leaves: a temp file next to the real one. */
static void leave_temp(const char *name)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmp_dir, name);
	f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("a secret", f);
		fclose(f);
	}
}

UNIT_TEST(temps_of_interrupted_writes_are_removed_and_nothing_else)
{
	char real[PATH_MAX];

	setup();
	CHECK(atomic_file_is_temp(".db.key.Ab12Cd"));
	CHECK(atomic_file_is_temp(".1111.json.x9Y8z7"));
	CHECK(!atomic_file_is_temp("db.key"));
	CHECK(!atomic_file_is_temp(".key"));
	CHECK(!atomic_file_is_temp("."));
	CHECK(!atomic_file_is_temp(".."));
	snprintf(real, sizeof(real), "%s/db.key", tmp_dir);
	CHECK_EQ_INT(atomic_file_write(real, "kept", 4, 0600), 0);
	leave_temp(".db.key.Ab12Cd");
	leave_temp(".web.key.Qw3rTy");
	CHECK_EQ_INT(atomic_file_remove_temps(tmp_dir), 2);
	CHECK_EQ_INT(count_entries(tmp_dir), 1);
	CHECK(!strcmp(content_of(real), "kept"));
	CHECK_EQ_INT(atomic_file_remove_temps(tmp_dir), 0);
	CHECK_EQ_INT(atomic_file_remove_temps("/nonexistent/dir"), -ENOENT);
	teardown();
}

UNIT_TEST(remove_is_idempotent)
{
	setup();
	CHECK_EQ_INT(atomic_file_write(path, "x", 1, 0600), 0);
	CHECK_EQ_INT(atomic_file_remove(path), 0);
	CHECK_EQ_INT(count_entries(tmp_dir), 0);
	CHECK_EQ_INT(atomic_file_remove(path), 0);
	CHECK_EQ_INT(atomic_file_remove(tmp_dir), -EISDIR);
	teardown();
}

UNIT_MAIN("atomic_file", UNIT_CASE(write_creates_file_with_mode),
	  UNIT_CASE(write_replaces_content_without_leftovers),
	  UNIT_CASE(write_into_missing_directory_fails), UNIT_CASE(failed_write_keeps_old_file),
	  UNIT_CASE(read_whole_file), UNIT_CASE(read_file_of_unknown_size),
	  UNIT_CASE(temps_of_interrupted_writes_are_removed_and_nothing_else),
	  UNIT_CASE(remove_is_idempotent))
