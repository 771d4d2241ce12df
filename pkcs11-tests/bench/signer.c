/*
 * The signing client of the benchmark (scenarios d and e): one process, T threads, each with its
 * own session, signing with the EC key labelled LABEL (CKM_ECDSA over 32-byte "hashes").
 *
 * Written in C, not Python, so that the client's CPU time is the module's: a PyKCS11 call costs
 * more CPU than a whole C_Sign of a good module, which would hide the difference we measure.
 * No PKCS#11 header is needed (the few types are declared below; C_* are looked up with dlsym,
 * both modules export them), so the benchmark builds with gcc and libc only.
 *
 * Usage: signer MODULE PIN LABEL COUNT THREADS SIGFILE
 * Protocol on stdin/stdout, so that several processes sign at the same time and none logs out
 * (closing its last session) while another still signs:
 *   -> "READY"              after C_Initialize, C_OpenSession per thread, C_Login, the key found
 *   <- any line             start signing (COUNT signatures in all, spread over the threads)
 *   -> "DONE <wall s> <user s> <sys s> <signatures> <errors>"   CPU of this process while signing
 *   <- any line             close the sessions, C_Finalize, exit
 * SIGFILE gets one line per signature: "<hash hex> <r||s hex>".
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef struct {
	CK_ULONG type;
	void *value;
	CK_ULONG len;
} CK_ATTRIBUTE;
typedef struct {
	CK_ULONG mechanism;
	void *param;
	CK_ULONG len;
} CK_MECHANISM;
typedef struct {
	void *create, *destroy, *lock, *unlock;
	CK_ULONG flags;
	void *reserved;
} CK_C_INITIALIZE_ARGS;

#define CKF_RW_SESSION 0x2UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKF_OS_LOCKING_OK 0x2UL
#define CKU_USER 1UL
#define CKA_CLASS 0x0UL
#define CKA_LABEL 0x3UL
#define CKO_PRIVATE_KEY 3UL
#define CKM_ECDSA 0x1041UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL

static CK_RV (*p_initialize)(void *);
static CK_RV (*p_finalize)(void *);
static CK_RV (*p_slot_list)(unsigned char, CK_ULONG *, CK_ULONG *);
static CK_RV (*p_open)(CK_ULONG, CK_ULONG, void *, void *, CK_ULONG *);
static CK_RV (*p_close)(CK_ULONG);
static CK_RV (*p_login)(CK_ULONG, CK_ULONG, const char *, CK_ULONG);
static CK_RV (*p_find_init)(CK_ULONG, CK_ATTRIBUTE *, CK_ULONG);
static CK_RV (*p_find)(CK_ULONG, CK_ULONG *, CK_ULONG, CK_ULONG *);
static CK_RV (*p_find_final)(CK_ULONG);
static CK_RV (*p_sign_init)(CK_ULONG, CK_MECHANISM *, CK_ULONG);
static CK_RV (*p_sign)(CK_ULONG, const unsigned char *, CK_ULONG, unsigned char *, CK_ULONG *);

static void die(const char *what, CK_RV rv)
{
	fprintf(stderr, "signer: %s failed: rv 0x%lx\n", what, rv);
	exit(2);
}

static void *sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);
	if (!p) {
		fprintf(stderr, "signer: %s not exported\n", name);
		exit(2);
	}
	return p;
}

struct worker {
	CK_ULONG session, key;
	int first, count, errors;
	unsigned char *out; /* count * (32 + 64) bytes: hash, r||s */
};

/* A distinct, deterministic 32-byte "hash" per signature index (no crypto needed: ECDSA signs
 * any 32 bytes; the verifier uses the same bytes). */
static void hash_of(int index, unsigned char h[32])
{
	uint64_t x = 0x9E3779B97F4A7C15ULL * (uint64_t)(index + 1);
	for (int i = 0; i < 32; i++) {
		x ^= x >> 29;
		x *= 0xBF58476D1CE4E5B9ULL;
		h[i] = (unsigned char)(x >> 56);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	for (int i = 0; i < w->count; i++) {
		unsigned char *h = w->out + (size_t)i * 96, *sig = h + 32;
		CK_ULONG len = 64;
		hash_of(w->first + i, h);
		CK_RV rv = p_sign_init(w->session, &mech, w->key);
		if (rv == 0)
			rv = p_sign(w->session, h, 32, sig, &len);
		if (rv != 0 || len != 64) {
			w->errors++;
			memset(sig, 0, 64);
		}
	}
	return NULL;
}

static double secs(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: signer MODULE PIN LABEL COUNT THREADS SIGFILE\n");
		return 2;
	}
	const char *pin = argv[2], *label = argv[3];
	int count = atoi(argv[4]), threads = atoi(argv[5]);
	if (count < 1 || threads < 1 || threads > 64) {
		fprintf(stderr, "signer: bad COUNT or THREADS\n");
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "signer: %s\n", dlerror());
		return 2;
	}
	p_initialize = sym(lib, "C_Initialize");
	p_finalize = sym(lib, "C_Finalize");
	p_slot_list = sym(lib, "C_GetSlotList");
	p_open = sym(lib, "C_OpenSession");
	p_close = sym(lib, "C_CloseSession");
	p_login = sym(lib, "C_Login");
	p_find_init = sym(lib, "C_FindObjectsInit");
	p_find = sym(lib, "C_FindObjects");
	p_find_final = sym(lib, "C_FindObjectsFinal");
	p_sign_init = sym(lib, "C_SignInit");
	p_sign = sym(lib, "C_Sign");

	CK_C_INITIALIZE_ARGS init = {NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL};
	CK_RV rv = p_initialize(&init);
	if (rv)
		die("C_Initialize", rv);
	CK_ULONG slots[8], nslots = 8;
	rv = p_slot_list(1, slots, &nslots);
	if (rv || nslots == 0)
		die("C_GetSlotList (no token?)", rv);

	struct worker *ws = calloc((size_t)threads, sizeof *ws);
	for (int t = 0; t < threads; t++) {
		rv = p_open(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &ws[t].session);
		if (rv)
			die("C_OpenSession", rv);
	}
	rv = p_login(ws[0].session, CKU_USER, pin, strlen(pin));
	if (rv && rv != CKR_USER_ALREADY_LOGGED_IN)
		die("C_Login", rv);
	CK_ULONG cls = CKO_PRIVATE_KEY, key = 0, found = 0;
	CK_ATTRIBUTE tmpl[2] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, strlen(label)}};
	rv = p_find_init(ws[0].session, tmpl, 2);
	if (rv)
		die("C_FindObjectsInit", rv);
	rv = p_find(ws[0].session, &key, 1, &found);
	if (rv || found != 1)
		die("C_FindObjects (key not found?)", rv);
	p_find_final(ws[0].session);

	for (int t = 0, first = 0; t < threads; t++) {
		ws[t].key = key;
		ws[t].first = first;
		ws[t].count = count / threads + (t < count % threads ? 1 : 0);
		ws[t].out = malloc((size_t)ws[t].count * 96 + 1);
		first += ws[t].count;
	}
	printf("READY\n");
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return 3;

	struct rusage r0, r1;
	struct timespec w0, w1;
	getrusage(RUSAGE_SELF, &r0);
	clock_gettime(CLOCK_MONOTONIC, &w0);
	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	for (int t = 0; t < threads; t++)
		pthread_create(&tids[t], NULL, work, &ws[t]);
	for (int t = 0; t < threads; t++)
		pthread_join(tids[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	getrusage(RUSAGE_SELF, &r1);

	int errors = 0;
	FILE *f = fopen(argv[6], "w");
	if (!f)
		return 2;
	for (int t = 0; t < threads; t++) {
		errors += ws[t].errors;
		for (int i = 0; i < ws[t].count; i++) {
			const unsigned char *h = ws[t].out + (size_t)i * 96;
			for (int j = 0; j < 32; j++)
				fprintf(f, "%02x", h[j]);
			fputc(' ', f);
			for (int j = 32; j < 96; j++)
				fprintf(f, "%02x", h[j]);
			fputc('\n', f);
		}
	}
	fclose(f);
	printf("DONE %.6f %.6f %.6f %d %d\n",
	       (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9,
	       secs(r1.ru_utime) - secs(r0.ru_utime), secs(r1.ru_stime) - secs(r0.ru_stime), count,
	       errors);
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 0;
	for (int t = 0; t < threads; t++)
		p_close(ws[t].session);
	p_finalize(NULL);
	return errors ? 1 : 0;
}
