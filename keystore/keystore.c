// SPDX-License-Identifier: MIT
#include "keystore.h"
#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_B64_LEN \
	(sodium_base64_ENCODED_LEN(KEYSTORE_KEY_LEN, sodium_base64_VARIANT_ORIGINAL) - 1)
/* Generous for "<base64>\n" with stray whitespace, small enough to refuse any other file. */
#define KEY_FILE_MAX	256
#define IDENTITY_SUFFIX ".key"
#define LINK_SUFFIX	".psk"
#define PSK_REF_SUFFIX	".psk"

struct keystore {
	char *dir;
	pthread_mutex_t secret_lock; /* guards the two below */
	uint8_t link_secret[KEYSTORE_KEY_LEN];
	bool has_link_secret;
};

static __thread char last_error[PATH_MAX + 128];

__attribute__((format(printf, 1, 2))) static void set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *keystore_error(void)
{
	return last_error;
}

bool keystore_ref_valid(const char *ref)
{
	size_t i;

	if (!ref || !((ref[0] >= 'a' && ref[0] <= 'z') || (ref[0] >= '0' && ref[0] <= '9')))
		return false;
	for (i = 1; ref[i]; i++) {
		char c = ref[i];

		if (i >= KEYSTORE_REF_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* The reference is user input: quote it shortened and without control characters. */
static int check_ref(const char *ref)
{
	char shown[KEYSTORE_REF_MAX + 1];
	size_t i;

	if (keystore_ref_valid(ref))
		return 0;
	for (i = 0; ref && ref[i] && i < KEYSTORE_REF_MAX; i++)
		shown[i] = ref[i] >= 0x20 && ref[i] < 0x7f ? ref[i] : '?';
	shown[i] = '\0';
	set_error("key reference \"%s%s\": expected 1 to %d characters of a-z 0-9 . _ - "
		  "starting with a letter or digit",
		  shown, ref && ref[i] ? "..." : "", KEYSTORE_REF_MAX);
	return -EINVAL;
}

/* -EPERM unless ST (of the key directory or file PATH) belongs to us and only to us. */
static int check_private(const char *what, const char *path, const struct stat *st, mode_t expected)
{
	if (st->st_uid != geteuid()) {
		set_error("%s %s: owned by uid %u, expected %u", what, path, (unsigned)st->st_uid,
			  (unsigned)geteuid());
		return -EPERM;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		set_error("%s %s: mode %04o, expected %04o", what, path,
			  (unsigned)(st->st_mode & 07777), (unsigned)expected);
		return -EPERM;
	}
	return 0;
}

static int ensure_private_dir(const char *path)
{
	struct stat st;
	int fd, ret;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		goto err_errno;
	/* The directory itself, never what a symlink in its place points to. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		set_error("key directory %s: %s", path,
			  errno == ELOOP || errno == ENOTDIR ? "not a directory" : strerror(errno));
		return ret == -ELOOP ? -ENOTDIR : ret;
	}
	ret = fstat(fd, &st) < 0 ? -errno : 0;
	/* A directory we just made may have been narrowed by the umask; one we cannot write is
	 * useless. Only our own, private one is widened back. */
	if (!ret && st.st_uid == geteuid() && !(st.st_mode & (S_IRWXG | S_IRWXO)) &&
	    (st.st_mode & S_IRWXU) != S_IRWXU && fchmod(fd, 0700) < 0)
		ret = -errno;
	close(fd);
	if (ret) {
		set_error("key directory %s: %s", path, strerror(-ret));
		return ret;
	}
	return check_private("key directory", path, &st, 0700);

err_errno:
	ret = -errno;
	set_error("key directory %s: %s", path, strerror(-ret));
	return ret;
}

__attribute__((format(printf, 2, 3))) static int format_path(char out[PATH_MAX], const char *fmt,
							     ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX) {
		set_error("key path %.64s...: too long", out);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* One directory per kind of key: identities, the PSKs of pairs, named PSKs. */
static const char *const key_subdirs[] = { "identity", "link", "psk" };

int keystore_open(const char *dir, struct keystore **out)
{
	struct keystore *ks;
	char sub[PATH_MAX];
	int ret;

	*out = NULL;
	last_error[0] = '\0';
	if (sodium_init() < 0) {
		set_error("keystore: libsodium failed to initialise");
		return -EIO;
	}
	ret = ensure_private_dir(dir);
	if (ret)
		return ret;
	ks = calloc(1, sizeof(*ks));
	if (!ks || !(ks->dir = strdup(dir))) {
		free(ks);
		set_error("keystore: out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&ks->secret_lock, NULL);
	for (size_t i = 0; !ret && i < sizeof(key_subdirs) / sizeof(key_subdirs[0]); i++) {
		ret = format_path(sub, "%s/%s", dir, key_subdirs[i]);
		if (!ret)
			ret = ensure_private_dir(sub);
		/* A crash in the middle of a write leaves its temp file, with the key in it. */
		if (!ret)
			atomic_file_remove_temps(sub);
	}
	if (ret) {
		keystore_close(ks);
		return ret;
	}
	*out = ks;
	return 0;
}

void keystore_close(struct keystore *ks)
{
	if (!ks)
		return;
	sodium_memzero(ks->link_secret, sizeof(ks->link_secret));
	pthread_mutex_destroy(&ks->secret_lock);
	free(ks->dir);
	free(ks);
}

void keystore_public_key(uint8_t pub[KEYSTORE_KEY_LEN], const uint8_t priv[KEYSTORE_KEY_LEN])
{
	/* libsodium clamps the scalar as wg does; the zero point it refuses is not a multiple of
	 * the base point, so this cannot fail. */
	if (crypto_scalarmult_base(pub, priv) != 0)
		sodium_memzero(pub, KEYSTORE_KEY_LEN);
}

static bool base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

int keystore_key_parse(const char *text, size_t len, uint8_t key[KEYSTORE_KEY_LEN])
{
	const char *end = NULL;
	size_t key_len = 0;

	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
		       text[len - 1] == '\t'))
		len--;
	if (len != KEY_B64_LEN)
		return -EBADMSG;
	/* libsodium 1.0.18 decodes every byte from 0x80 up as '/': check the alphabet first. */
	for (size_t i = 0; i < len; i++)
		if (!base64_char(text[i]))
			return -EBADMSG;
	if (sodium_base642bin(key, KEYSTORE_KEY_LEN, text, len, NULL, &key_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    key_len != KEYSTORE_KEY_LEN || end != text + len) {
		sodium_memzero(key, KEYSTORE_KEY_LEN);
		return -EBADMSG;
	}
	return 0;
}

/* Opens the key file PATH, never through a symlink, and checks what was opened, not the path. */
static int key_file_load(const char *path, uint8_t key[KEYSTORE_KEY_LEN])
{
	char text[KEY_FILE_MAX + 1];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ELOOP ? -EBADMSG : -errno;
		set_error("key file %s: %s", path,
			  errno == ELOOP ? "a symbolic link, not a regular file" : strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		set_error("key file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_error("key file %s: not a regular file", path);
		ret = -EBADMSG;
		goto out;
	}
	ret = check_private("key file", path, &st, 0600);
	if (ret)
		goto out;
	while (len < sizeof(text) && (n = read(fd, text + len, sizeof(text) - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			set_error("key file %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len > KEY_FILE_MAX) {
		set_error("key file %s: not a base64 32-byte key (larger than %d bytes)", path,
			  KEY_FILE_MAX);
		ret = -EBADMSG;
		goto out;
	}
	ret = keystore_key_parse(text, len, key);
	if (ret)
		set_error("key file %s: not a base64 32-byte key", path);
out:
	sodium_memzero(text, sizeof(text));
	close(fd);
	return ret;
}

static int key_file_store(const char *path, const uint8_t key[KEYSTORE_KEY_LEN])
{
	char text[KEY_B64_LEN + 2];
	int ret;

	sodium_bin2base64(text, sizeof(text) - 1, key, KEYSTORE_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	text[KEY_B64_LEN] = '\n';
	text[KEY_B64_LEN + 1] = '\0';
	ret = atomic_file_write(path, text, KEY_B64_LEN + 1, 0600);
	sodium_memzero(text, sizeof(text));
	if (ret)
		set_error("key file %s: cannot write: %s", path, strerror(-ret));
	return ret;
}

static void generate_private_key(uint8_t key[KEYSTORE_KEY_LEN])
{
	randombytes_buf(key, KEYSTORE_KEY_LEN);
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

static void generate_psk(uint8_t key[KEYSTORE_KEY_LEN])
{
	randombytes_buf(key, KEYSTORE_KEY_LEN);
}

static int key_file_get(const char *path, bool create, void (*generate)(uint8_t *),
			uint8_t key[KEYSTORE_KEY_LEN], bool *created)
{
	int ret;

	if (created)
		*created = false;
	ret = key_file_load(path, key);
	if (ret != -ENOENT || !create)
		goto out;
	last_error[0] = '\0';
	generate(key);
	ret = key_file_store(path, key);
	if (!ret && created)
		*created = true;
out:
	if (ret)
		sodium_memzero(key, KEYSTORE_KEY_LEN);
	return ret;
}

static int key_file_delete(const char *path)
{
	int ret = atomic_file_remove(path);

	if (ret)
		set_error("key file %s: cannot delete: %s", path, strerror(-ret));
	return ret;
}

static int identity_path(const struct keystore *ks, char out[PATH_MAX], const char *ref)
{
	int ret;

	last_error[0] = '\0';
	ret = check_ref(ref);
	if (!ret)
		ret = format_path(out, "%s/identity/%s" IDENTITY_SUFFIX, ks->dir, ref);
	return ret;
}

static int psk_ref_path(const struct keystore *ks, char out[PATH_MAX], const char *ref)
{
	int ret;

	last_error[0] = '\0';
	ret = check_ref(ref);
	if (!ret)
		ret = format_path(out, "%s/psk/%s" PSK_REF_SUFFIX, ks->dir, ref);
	return ret;
}

/* The smaller reference comes first so that both ends of a link name the same file. */
static int link_path(const struct keystore *ks, char out[PATH_MAX], const char *a, const char *b)
{
	int ret;

	last_error[0] = '\0';
	ret = check_ref(a);
	if (!ret)
		ret = check_ref(b);
	if (ret)
		return ret;
	if (!strcmp(a, b)) {
		set_error("link %s+%s: an identity cannot link to itself", a, b);
		return -EINVAL;
	}
	if (strcmp(a, b) > 0) {
		const char *t = a;

		a = b;
		b = t;
	}
	return format_path(out, "%s/link/%s+%s" LINK_SUFFIX, ks->dir, a, b);
}

int keystore_identity_get(struct keystore *ks, const char *ref, bool create,
			  uint8_t key[KEYSTORE_KEY_LEN], bool *created)
{
	char path[PATH_MAX];
	int ret;

	if (created)
		*created = false;
	ret = identity_path(ks, path, ref);
	if (ret)
		return ret;
	return key_file_get(path, create, generate_private_key, key, created);
}

int keystore_identity_put(struct keystore *ks, const char *ref, const uint8_t key[KEYSTORE_KEY_LEN])
{
	char path[PATH_MAX];
	int ret;

	ret = identity_path(ks, path, ref);
	if (ret)
		return ret;
	return key_file_store(path, key);
}

int keystore_identity_delete(struct keystore *ks, const char *ref)
{
	char path[PATH_MAX];
	int ret;

	ret = identity_path(ks, path, ref);
	if (ret)
		return ret;
	return key_file_delete(path);
}

int keystore_psk_get(struct keystore *ks, const char *a, const char *b, bool create,
		     uint8_t psk[KEYSTORE_KEY_LEN], bool *created)
{
	char path[PATH_MAX];
	int ret;

	if (created)
		*created = false;
	ret = link_path(ks, path, a, b);
	if (ret)
		return ret;
	return key_file_get(path, create, generate_psk, psk, created);
}

/* The link secret, read (or made) once and kept. */
static int link_secret_get(struct keystore *ks, uint8_t secret[KEYSTORE_KEY_LEN])
{
	char path[PATH_MAX];
	int ret = 0;

	pthread_mutex_lock(&ks->secret_lock);
	if (!ks->has_link_secret) {
		ret = format_path(path, "%s/link.key", ks->dir);
		if (!ret)
			ret = key_file_get(path, true, generate_psk, ks->link_secret, NULL);
		ks->has_link_secret = !ret;
	}
	if (!ret)
		memcpy(secret, ks->link_secret, KEYSTORE_KEY_LEN);
	pthread_mutex_unlock(&ks->secret_lock);
	return ret;
}

int keystore_psk_derive(struct keystore *ks, const uint8_t pub_a[KEYSTORE_KEY_LEN],
			const uint8_t pub_b[KEYSTORE_KEY_LEN], uint8_t psk[KEYSTORE_KEY_LEN])
{
	static const char context[] = "wireguard-driver link psk v1";
	bool a_first = memcmp(pub_a, pub_b, KEYSTORE_KEY_LEN) < 0;
	crypto_generichash_state st;
	uint8_t secret[KEYSTORE_KEY_LEN];
	int ret;

	last_error[0] = '\0';
	ret = link_secret_get(ks, secret);
	if (ret)
		return ret;
	crypto_generichash_init(&st, secret, sizeof(secret), KEYSTORE_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)context, sizeof(context));
	crypto_generichash_update(&st, a_first ? pub_a : pub_b, KEYSTORE_KEY_LEN);
	crypto_generichash_update(&st, a_first ? pub_b : pub_a, KEYSTORE_KEY_LEN);
	crypto_generichash_final(&st, psk, KEYSTORE_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(secret, sizeof(secret));
	return 0;
}

int keystore_psk_put(struct keystore *ks, const char *a, const char *b,
		     const uint8_t psk[KEYSTORE_KEY_LEN])
{
	char path[PATH_MAX];
	int ret;

	ret = link_path(ks, path, a, b);
	if (ret)
		return ret;
	return key_file_store(path, psk);
}

int keystore_psk_delete(struct keystore *ks, const char *a, const char *b)
{
	char path[PATH_MAX];
	int ret;

	ret = link_path(ks, path, a, b);
	if (ret)
		return ret;
	return key_file_delete(path);
}

int keystore_host_key_get(struct keystore *ks, uint8_t key[KEYSTORE_KEY_LEN], bool *created)
{
	char path[PATH_MAX];
	int ret;

	last_error[0] = '\0';
	ret = format_path(path, "%s/host.key", ks->dir);
	if (ret)
		return ret;
	return key_file_get(path, true, generate_private_key, key, created);
}

int keystore_psk_ref_get(struct keystore *ks, const char *ref, bool create,
			 uint8_t psk[KEYSTORE_KEY_LEN], bool *created)
{
	char path[PATH_MAX];
	int ret;

	if (created)
		*created = false;
	ret = psk_ref_path(ks, path, ref);
	if (ret)
		return ret;
	return key_file_get(path, create, generate_psk, psk, created);
}

int keystore_psk_ref_put(struct keystore *ks, const char *ref, const uint8_t psk[KEYSTORE_KEY_LEN])
{
	char path[PATH_MAX];
	int ret;

	ret = psk_ref_path(ks, path, ref);
	if (ret)
		return ret;
	return key_file_store(path, psk);
}

int keystore_psk_ref_delete(struct keystore *ks, const char *ref)
{
	char path[PATH_MAX];
	int ret;

	ret = psk_ref_path(ks, path, ref);
	if (ret)
		return ret;
	return key_file_delete(path);
}

/* true when NAME is "<x>+<y>.psk" and REF is x or y. */
static bool link_involves(const char *name, const char *ref)
{
	size_t len = strlen(name), ref_len = strlen(ref), suffix = strlen(LINK_SUFFIX);
	const char *plus = strchr(name, '+');

	if (!plus || len <= suffix || strcmp(name + len - suffix, LINK_SUFFIX))
		return false;
	if ((size_t)(plus - name) == ref_len && !strncmp(name, ref, ref_len))
		return true;
	return len - suffix - (size_t)(plus + 1 - name) == ref_len &&
	       !strncmp(plus + 1, ref, ref_len);
}

int keystore_psk_delete_all(struct keystore *ks, const char *ref)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *ent;
	DIR *d;
	int ret;

	last_error[0] = '\0';
	ret = check_ref(ref);
	if (!ret)
		ret = format_path(dir, "%s/link", ks->dir);
	if (ret)
		return ret;
	d = opendir(dir);
	if (!d) {
		ret = -errno;
		set_error("key directory %s: %s", dir, strerror(errno));
		return ret;
	}
	while ((ent = readdir(d))) {
		if (!link_involves(ent->d_name, ref))
			continue;
		ret = format_path(path, "%s/%s", dir, ent->d_name);
		if (!ret)
			ret = key_file_delete(path);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

/* true when NAME is "<ref><SUFFIX>" with a valid reference. */
static bool ref_file_name(const char *name, const char *suffix)
{
	size_t len = strlen(name), suffix_len = strlen(suffix);
	char ref[KEYSTORE_REF_MAX + 1];

	if (len <= suffix_len || len - suffix_len > KEYSTORE_REF_MAX ||
	    strcmp(name + len - suffix_len, suffix))
		return false;
	memcpy(ref, name, len - suffix_len);
	ref[len - suffix_len] = '\0';
	return keystore_ref_valid(ref);
}

static int identity_name_filter(const struct dirent *ent)
{
	return ref_file_name(ent->d_name, IDENTITY_SUFFIX);
}

static int psk_ref_name_filter(const struct dirent *ent)
{
	return ref_file_name(ent->d_name, PSK_REF_SUFFIX);
}

/* Byte order, not the locale's collation, so the order is the same everywhere. */
static int key_name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Lists the key files of subdirectory SUB that FILTER accepts into *NAMES (free each and the
 * array), in name order; writes the directory's path into DIR. Returns the count or -errno. */
static int list_key_files(const struct keystore *ks, const char *sub,
			  int (*filter)(const struct dirent *), char dir[PATH_MAX],
			  struct dirent ***names)
{
	int n, ret;

	last_error[0] = '\0';
	ret = format_path(dir, "%s/%s", ks->dir, sub);
	if (ret)
		return ret;
	n = scandir(dir, names, filter, key_name_cmp);
	if (n < 0) {
		ret = -errno;
		set_error("key directory %s: %s", dir, strerror(errno));
		return ret;
	}
	return n;
}

static void free_names(struct dirent **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int keystore_identity_foreach(struct keystore *ks,
			      int (*fn)(const char *ref, const uint8_t pub[KEYSTORE_KEY_LEN],
					void *ctx),
			      void *ctx)
{
	char dir[PATH_MAX], path[PATH_MAX], ref[KEYSTORE_REF_MAX + 1];
	uint8_t priv[KEYSTORE_KEY_LEN], pub[KEYSTORE_KEY_LEN];
	struct dirent **names = NULL;
	int n, i, ret = 0;

	n = list_key_files(ks, "identity", identity_name_filter, dir, &names);
	if (n < 0)
		return n;
	for (i = 0; i < n && !ret; i++) {
		size_t ref_len = strlen(names[i]->d_name) - strlen(IDENTITY_SUFFIX);

		memcpy(ref, names[i]->d_name, ref_len);
		ref[ref_len] = '\0';
		ret = format_path(path, "%s/%s", dir, names[i]->d_name);
		if (!ret)
			ret = key_file_load(path, priv);
		if (ret == -ENOENT) {
			/* deleted since the listing */
			last_error[0] = '\0';
			ret = 0;
		} else if (!ret) {
			keystore_public_key(pub, priv);
			sodium_memzero(priv, sizeof(priv));
			ret = fn(ref, pub, ctx);
		}
	}
	sodium_memzero(priv, sizeof(priv));
	free_names(names, n);
	return ret;
}

int keystore_psk_ref_foreach(struct keystore *ks, int (*fn)(const char *ref, void *ctx), void *ctx)
{
	char dir[PATH_MAX], ref[KEYSTORE_REF_MAX + 1];
	struct dirent **names = NULL;
	int n, i, ret = 0;

	n = list_key_files(ks, "psk", psk_ref_name_filter, dir, &names);
	if (n < 0)
		return n;
	for (i = 0; i < n && !ret; i++) {
		size_t ref_len = strlen(names[i]->d_name) - strlen(PSK_REF_SUFFIX);

		memcpy(ref, names[i]->d_name, ref_len);
		ref[ref_len] = '\0';
		ret = fn(ref, ctx);
	}
	free_names(names, n);
	return ret;
}
