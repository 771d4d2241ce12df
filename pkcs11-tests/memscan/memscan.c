/*
 * memscan: a PKCS#11 client that uses our module with secrets (PINs, SO-PIN, DKEK share, share
 * password, private keys) and then searches its own memory for any copy of them
 * (pkcs11-tests/tests/65-reliability-secrets-memory.sh).
 *
 *   memscan MODULE DIR prep   3.2 device: import key.unwrap restricted to ECDSA-SHA256,
 *                             wrap it under the DKEK into DIR/unwrap.blob (nothing scanned)
 *   memscan MODULE DIR run    the full session on a 3.1 device (see the test), scanning before
 *                             it, after C_Logout and after C_Finalize
 *
 * Secrets come from files in DIR, each read with read(2) (no stdio buffer) into one buffer
 * that is wiped with explicit_bzero right after the call that needed it. What is searched for
 * is kept only XOR-masked (MASK), so the client itself holds no copy. The scan reads every
 * readable mapping through /proc/self/mem into a scratch mapping that is excluded and wiped.
 *
 * MEMSCAN_QUARANTINE=1: freed heap blocks are never reused nor overwritten (see below).
 * MEMSCAN_CONTROL=1 (run): the scanner's own check; pin.1 is copied to the heap, left there,
 * and the one scan ("control") must find it.
 *
 * Output: per hit "hit POINT SECRET FORM ADDR PERMS MAPPING before=HEX", per scan "scan POINT end
 * regions=N bytes=N hits=N", then per call "step NAME rv=0x..[ UNEXPECTED]"; hit lines are
 * printed before any step line. HEX: the 8 bytes before the hit, to tell a malloc chunk start,
 * an APDU header or a JSON field apart. Exit 0 when the session ran (hits are judged by the
 * test), 2 when a PKCS#11 call failed unexpectedly.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

/* --- quarantine: freed heap memory kept as it was ------------------------------------------
 * glibc writes its free-list pointers into the first 16 bytes of a freed chunk, which would
 * hide a short secret (a PIN) that was freed without being wiped. With MEMSCAN_QUARANTINE=1
 * free() keeps every block and realloc() copies into a new one, so whatever a freed or
 * outgrown buffer held stays visible to the scan. These definitions in the executable take
 * the place of libc's for the module and every library it loads. */
extern void __libc_free(void *);
extern void *__libc_malloc(size_t);
extern void *__libc_realloc(void *, size_t);
static int quarantine;

void free(void *p) {
	if (!quarantine) __libc_free(p);
}

void *realloc(void *p, size_t n) {
	if (!quarantine || !p) return __libc_realloc(p, n);
	void *q = __libc_malloc(n);
	if (q) {
		size_t old = malloc_usable_size(p);
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}

/* The few PKCS#11 types and constants needed (no pkcs11.h: CI has no header package). */
typedef unsigned long CK_ULONG, CK_RV, CK_SLOT_ID, CK_SESSION_HANDLE, CK_OBJECT_HANDLE;
typedef unsigned char CK_BBOOL;
typedef struct { CK_ULONG type; void *value; CK_ULONG len; } CK_ATTRIBUTE;
typedef struct { CK_ULONG mechanism; void *param; CK_ULONG param_len; } CK_MECHANISM;
#define CKF_RW_SESSION 0x2UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKU_SO 0UL
#define CKU_USER 1UL
#define CKR_OK 0UL
#define CKR_PIN_INCORRECT 0xA0UL
#define CKO_PRIVATE_KEY 3UL
#define CKO_PUBLIC_KEY 2UL
#define CKO_SECRET_KEY 4UL
#define CKK_EC 3UL
#define CKA_CLASS 0x0UL
#define CKA_TOKEN 0x1UL
#define CKA_PRIVATE 0x2UL
#define CKA_LABEL 0x3UL
#define CKA_VALUE 0x11UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_ID 0x102UL
#define CKA_SIGN 0x108UL
#define CKA_EXTRACTABLE 0x162UL
#define CKA_EC_PARAMS 0x180UL
#define CKA_ALLOWED_MECHANISMS 0x40000600UL
#define CKM_EC_KEY_PAIR_GEN 0x1040UL
#define CKM_ECDSA 0x1041UL
#define CKM_ECDSA_SHA256 0x1044UL
#define CKM_SCHSM_DKEK_WRAP 0xD3480001UL
#define CKM_SCHSM_PKCS8_IMPORT 0xD3480002UL

static const unsigned char P256_PARAMS[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static CK_BBOOL yes = 1;

/* --- the module -------------------------------------------------------------------------- */

/* Between two module calls the client calls no libc function that uses much stack (no printf,
 * no dlsym): what the module left in the stack below us must still be there when it is scanned.
 * The functions are looked up once, the results printed at the end, the scan runs on its own
 * stack. */
static void *module;
#define FUNCTIONS(X)                                                                                   \
	X(C_Initialize) X(C_Finalize) X(C_GetSlotList) X(C_OpenSession) X(C_CloseAllSessions) X(C_Login) \
	X(C_Logout) X(C_SetPIN) X(C_InitPIN) X(C_FindObjectsInit) X(C_FindObjects) X(C_FindObjectsFinal) \
	X(C_CreateObject) X(C_GenerateKeyPair) X(C_SignInit) X(C_Sign) X(C_WrapKey) X(C_UnwrapKey)      \
	X(C_InitToken)
#define DECLARE(f) static void *fn_##f;
FUNCTIONS(DECLARE)
#define RESOLVE(f)                                                                                     \
	if (!(fn_##f = dlsym(module, #f))) {                                                           \
		fprintf(stderr, "module lacks %s\n", #f);                                              \
		exit(2);                                                                               \
	}
#define CALL(name, ...) ((CK_RV(*)())fn_##name)(__VA_ARGS__)

/* The calls' results, printed by print_steps. */
#define MAX_STEPS 64
static struct { const char *name; CK_RV rv, want; } steps[MAX_STEPS];
static int n_steps, failed;

/* expect: the call's result must be `want`, else the session is marked failed. */
static CK_RV expect(const char *step, CK_RV rv, CK_RV want) {
	if (n_steps < MAX_STEPS) steps[n_steps++] = (typeof(steps[0])){step, rv, want};
	if (rv != want) failed = 1;
	return rv;
}

static void print_steps(void) {
	for (int i = 0; i < n_steps; i++)
		printf("step %s rv=0x%lX%s\n", steps[i].name, steps[i].rv, steps[i].rv == steps[i].want ? "" : " UNEXPECTED");
	n_steps = 0;
}

/* --- secrets: one buffer, filled from a file, wiped after each use ---------------------- */

static const char *dir;
static unsigned char secret[4096];
static size_t secret_len;

/* load: the file DIR/NAME into `secret` (a final line break dropped). */
static void load(const char *name) {
	static char path[4096];
	if (strlen(dir) + strlen(name) + 2 > sizeof path) exit(2);
	strcpy(path, dir);
	strcat(path, "/");
	strcat(path, name);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, secret, sizeof secret);
	if (fd >= 0) close(fd);
	if (n <= 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	secret_len = (size_t)n;
	while (secret_len > 0 && (secret[secret_len - 1] == '\n' || secret[secret_len - 1] == '\r')) secret_len--;
}

static void wipe(void) {
	explicit_bzero(secret, sizeof secret);
	secret_len = 0;
}

/* --- what is searched for, masked ------------------------------------------------------- */

#define MASK 0x5A
#define MAX_PATTERNS 64
struct pattern {
	char name[32];
	const char *form; /* raw, HEX (upper-case hex text), hex (lower-case), bin (SO-PIN decoded) */
	unsigned char masked[128];
	size_t len;
};
static struct pattern patterns[MAX_PATTERNS];
static int n_patterns;

static void add_masked(const char *name, const char *form, const unsigned char *bytes, size_t len, int hex_case) {
	static const char *digits[2] = {"0123456789abcdef", "0123456789ABCDEF"};
	struct pattern *p = &patterns[n_patterns++];
	snprintf(p->name, sizeof p->name, "%s", name);
	p->form = form;
	if (hex_case < 0) {
		for (size_t i = 0; i < len; i++) p->masked[i] = bytes[i] ^ MASK;
		p->len = len;
	} else {
		for (size_t i = 0; i < len; i++) {
			p->masked[2 * i] = (unsigned char)digits[hex_case][bytes[i] >> 4] ^ MASK;
			p->masked[2 * i + 1] = (unsigned char)digits[hex_case][bytes[i] & 15] ^ MASK;
		}
		p->len = 2 * len;
	}
}

/* pattern_file: the secret in DIR/FILE, searched raw and as upper/lower-case hex text. */
static void pattern_file(const char *name, const char *file) {
	load(file);
	if (secret_len > 60 || n_patterns + 3 > MAX_PATTERNS) {
		fprintf(stderr, "%s: too long or too many patterns\n", file);
		exit(2);
	}
	add_masked(name, "raw", secret, secret_len, -1);
	add_masked(name, "HEX", secret, secret_len, 1);
	add_masked(name, "hex", secret, secret_len, 0);
	wipe();
}

/* pattern_so_pin: the SO-PIN as text (both cases) and decoded to its 8 bytes. */
static void pattern_so_pin(const char *name, const char *file) {
	char first6[32];
	unsigned char bin[8];
	load(file);
	if (secret_len != 16) {
		fprintf(stderr, "%s: not 16 hex digits\n", file);
		exit(2);
	}
	for (int i = 0; i < 8; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			unsigned char c = secret[2 * i + k];
			v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
		}
		bin[i] = (unsigned char)v;
	}
	wipe();
	add_masked(name, "bin", bin, 8, -1);
	add_masked(name, "HEX", bin, 8, 1);
	add_masked(name, "hex", bin, 8, 0);
	/* C_InitToken's provisional user PIN: the SO-PIN's first 6 bytes (token/admin.rs). */
	snprintf(first6, sizeof first6, "%s-first6", name);
	add_masked(first6, "bin", bin, 6, -1);
	explicit_bzero(bin, sizeof bin);
}

/* --- the scan ------------------------------------------------------------------------------ */

#define CHUNK (1u << 20)
#define OVERLAP 128
static unsigned char *scratch; /* CHUNK + OVERLAP bytes, excluded from the scan */

/* matches: pattern p at s (compared masked, so the plain secret is never formed). */
static int matches(const struct pattern *p, const unsigned char *s) {
	for (size_t i = 0; i < p->len; i++)
		if ((unsigned char)(s[i] ^ MASK) != p->masked[i]) return 0;
	return 1;
}

static void scan_here(const char *point) {
	FILE *maps = fopen("/proc/self/maps", "r");
	int mem = open("/proc/self/mem", O_RDONLY);
	if (!maps || mem < 0) {
		fprintf(stderr, "cannot open /proc/self/maps or /proc/self/mem\n");
		exit(2);
	}
	char line[4096];
	unsigned long regions = 0, total = 0, hits = 0;
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[8] = "", path[4096] = "";
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095[^\n]", &lo, &hi, perms, path) < 3) continue;
		if (perms[0] != 'r' || strcmp(path, "[vvar]") == 0 || strcmp(path, "[vsyscall]") == 0) continue;
		if (lo == (unsigned long)scratch) continue;
		const char *where = path[0] ? path : "[anon]";
		regions++;
		for (unsigned long at = lo; at < hi; at += CHUNK) {
			size_t want = hi - at > CHUNK + OVERLAP ? CHUNK + OVERLAP : hi - at;
			ssize_t got = pread(mem, scratch, want, (off_t)at);
			if (got <= 0) break;
			total += (unsigned long)(got < CHUNK ? got : CHUNK);
			for (int k = 0; k < n_patterns; k++) {
				const struct pattern *p = &patterns[k];
				unsigned char first = p->masked[0] ^ MASK;
				/* Hits starting in the overlap are found by the next chunk. */
				size_t end = (size_t)got < CHUNK ? (size_t)got : CHUNK;
				for (size_t i = 0; i < end && i + p->len <= (size_t)got; i++) {
					if (scratch[i] != first || !matches(p, scratch + i)) continue;
					char before[20] = "";
					for (size_t b = i >= 8 ? i - 8 : 0, o = 0; b < i; b++, o += 2)
						snprintf(before + o, 3, "%02X", scratch[b]);
					printf("hit %s %s %s 0x%lx %s %s before=%s\n", point, p->name, p->form, at + i, perms,
					       where, before[0] ? before : "-");
					hits++;
				}
			}
			explicit_bzero(scratch, CHUNK + OVERLAP);
		}
	}
	close(mem);
	fclose(maps);
	printf("scan %s end regions=%lu bytes=%lu hits=%lu\n", point, regions, total, hits);
	fflush(stdout);
}

/* scan POINT: scan_here on a stack of its own, so that the dead part of the main stack (where
 * the module's frames were) is read as the module left it. */
#define SCAN_STACK (1u << 20)
static ucontext_t main_ctx, scan_ctx;
static char *scan_stack;
static const char *scan_point;
static void scan_entry(void) { scan_here(scan_point); }
static void scan(const char *point) {
	if (!scan_stack) {
		scan_stack = mmap(NULL, SCAN_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (scan_stack == MAP_FAILED) exit(2);
	}
	scan_point = point;
	getcontext(&scan_ctx);
	scan_ctx.uc_stack.ss_sp = scan_stack;
	scan_ctx.uc_stack.ss_size = SCAN_STACK;
	scan_ctx.uc_link = &main_ctx;
	makecontext(&scan_ctx, scan_entry, 0);
	swapcontext(&main_ctx, &scan_ctx);
}

/* --- the session --------------------------------------------------------------------------- */

static CK_SESSION_HANDLE session;

/* login WHO FILE [WANT]: C_Login with the PIN in DIR/FILE. */
static CK_RV login(const char *step, CK_ULONG who, const char *file, CK_RV want) {
	load(file);
	CK_RV rv = CALL(C_Login, session, who, secret, (CK_ULONG)secret_len);
	wipe();
	return expect(step, rv, want);
}

static CK_OBJECT_HANDLE find_one(CK_ULONG cls, const void *id, CK_ULONG id_len, const char *label) {
	CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof cls}, {0, 0, 0}};
	if (id) t[1] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};
	if (label) t[1] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
	CK_OBJECT_HANDLE h = 0;
	CK_ULONG n = 0;
	expect("C_FindObjectsInit", CALL(C_FindObjectsInit, session, t, 2UL), CKR_OK);
	expect("C_FindObjects", CALL(C_FindObjects, session, &h, 1UL, &n), CKR_OK);
	expect("C_FindObjectsFinal", CALL(C_FindObjectsFinal, session), CKR_OK);
	expect("C_FindObjects found one", n, 1);
	return h;
}

/* import_ec NAME ID ALLOWED: C_CreateObject of the P-256 private key in DIR/NAME (32 bytes). */
static CK_OBJECT_HANDLE import_ec(const char *name, unsigned char id, int restricted) {
	CK_ULONG cls = CKO_PRIVATE_KEY, kt = CKK_EC, mech = CKM_ECDSA_SHA256;
	CK_OBJECT_HANDLE h = 0;
	load(name);
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof cls},   {CKA_KEY_TYPE, &kt, sizeof kt},
	    {CKA_TOKEN, &yes, 1},            {CKA_PRIVATE, &yes, 1},
	    {CKA_SIGN, &yes, 1},             {CKA_ID, &id, 1},
	    {CKA_EC_PARAMS, (void *)P256_PARAMS, sizeof P256_PARAMS},
	    {CKA_VALUE, secret, secret_len}, {CKA_EXTRACTABLE, &yes, 1},
	    {CKA_ALLOWED_MECHANISMS, &mech, sizeof mech},
	};
	CK_RV rv = CALL(C_CreateObject, session, t, (CK_ULONG)(restricted ? 10 : 9), &h);
	wipe();
	expect("C_CreateObject(private key)", rv, CKR_OK);
	return h;
}

/* import_pkcs8 NAME ID: C_UnwrapKey(CKM_SCHSM_PKCS8_IMPORT) of the P-256 private key in DIR/NAME
 * (32 bytes) as an unencrypted PKCS#8 PrivateKeyInfo, built in a buffer wiped afterwards. */
static void import_pkcs8(CK_OBJECT_HANDLE dkek, const char *name, unsigned char id) {
	static const unsigned char head[] = {0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48,
					     0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03,
					     0x01, 0x07, 0x04, 0x27, 0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20};
	static unsigned char der[sizeof head + 32];
	CK_ULONG cls = CKO_PRIVATE_KEY, kt = CKK_EC;
	CK_OBJECT_HANDLE h = 0;
	CK_MECHANISM mech = {CKM_SCHSM_PKCS8_IMPORT, NULL, 0};
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}, {CKA_ID, &id, 1}};
	load(name);
	memcpy(der, head, sizeof head);
	memcpy(der + sizeof head, secret, 32);
	wipe();
	CK_RV rv = CALL(C_UnwrapKey, session, &mech, dkek, der, (CK_ULONG)sizeof der, t, 3UL, &h);
	explicit_bzero(der, sizeof der);
	expect("C_UnwrapKey(CKM_SCHSM_PKCS8_IMPORT)", rv, CKR_OK);
}

static void write_file(const char *name, const void *data, size_t len) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
}

static size_t read_file(const char *name, unsigned char *buf, size_t max) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, max, f) : 0;
	if (f) fclose(f);
	return n;
}

static CK_SLOT_ID slot;
static void open_session(void) {
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	expect("C_Initialize", CALL(C_Initialize, NULL), CKR_OK);
	expect("C_GetSlotList", CALL(C_GetSlotList, (CK_BBOOL)1, slots, &n), CKR_OK);
	if (n < 1) {
		print_steps();
		printf("step no token UNEXPECTED\n");
		exit(2);
	}
	slot = slots[0];
	expect("C_OpenSession", CALL(C_OpenSession, slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session),
	       CKR_OK);
}

/* prep: the restricted key to unwrap later, wrapped on a 3.2 device (list kept in the blob). */
static int prep(void) {
	static unsigned char blob[8192];
	CK_ULONG len = sizeof blob;
	CK_MECHANISM wrap = {CKM_SCHSM_DKEK_WRAP, NULL, 0};
	open_session();
	login("C_Login(user, pin.1)", CKU_USER, "pin.1", CKR_OK);
	CK_OBJECT_HANDLE key = import_ec("key.unwrap", 0x52, 1);
	CK_OBJECT_HANDLE dkek = find_one(CKO_SECRET_KEY, NULL, 0, "DKEK");
	expect("C_WrapKey", CALL(C_WrapKey, session, &wrap, dkek, key, blob, &len), CKR_OK);
	write_file("unwrap.blob", blob, len);
	expect("C_Finalize", CALL(C_Finalize, NULL), CKR_OK);
	print_steps();
	return failed ? 2 : 0;
}

static int run(void) {
	static unsigned char blob[8192], sig[256];
	CK_MECHANISM wrap = {CKM_SCHSM_DKEK_WRAP, NULL, 0}, gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0},
		     ecdsa = {CKM_ECDSA, NULL, 0};
	CK_ULONG cls_priv = CKO_PRIVATE_KEY;
	unsigned char gen_id = 0x47, hash[32] = {1, 2, 3};

	/* Patterns first, each secret masked and its file buffer wiped. */
	pattern_file("pin-wrong", "pin.wrong");
	pattern_file("pin-1", "pin.1");
	pattern_file("pin-2", "pin.2");
	pattern_file("pin-3", "pin.3");
	pattern_so_pin("so-pin", "sopin");
	pattern_so_pin("so-pin-2", "sopin.2");
	pattern_file("share-password", "share.pw");
	pattern_file("dkek-share", "share.bin");
	pattern_file("dkek-kenc", "kenc.bin");
	pattern_file("dkek-kmac", "kmac.bin");
	pattern_file("share-kdf-key", "kdf.key");
	pattern_file("share-kdf-iv", "kdf.iv");
	pattern_file("key-imported", "key.import");
	pattern_file("key-unwrapped", "key.unwrap");
	pattern_file("key-pkcs8", "key.pkcs8");
	scratch = mmap(NULL, CHUNK + OVERLAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED) return 2;
	if (getenv("MEMSCAN_CONTROL")) {
		/* The scanner's own check: a PIN copy left on the heap on purpose must be found. */
		load("pin.1");
		unsigned char *leak = malloc(secret_len);
		memcpy(leak, secret, secret_len);
		wipe();
		scan("control");
		explicit_bzero(leak, 1);
		free(leak);
		return 0;
	}
	scan("start");

	static unsigned char to_unwrap[8192];
	CK_ULONG to_unwrap_len = read_file("unwrap.blob", to_unwrap, sizeof to_unwrap);
	open_session();
	login("C_Login(user, pin.wrong)", CKU_USER, "pin.wrong", CKR_PIN_INCORRECT);
	login("C_Login(user, pin.1)", CKU_USER, "pin.1", CKR_OK);
	CK_OBJECT_HANDLE pub = 0, priv = 0;
	CK_ATTRIBUTE pub_t[] = {{CKA_EC_PARAMS, (void *)P256_PARAMS, sizeof P256_PARAMS}, {CKA_TOKEN, &yes, 1}};
	CK_ATTRIBUTE priv_t[] = {{CKA_TOKEN, &yes, 1}, {CKA_SIGN, &yes, 1}, {CKA_ID, &gen_id, 1}};
	expect("C_GenerateKeyPair", CALL(C_GenerateKeyPair, session, &gen, pub_t, 2UL, priv_t, 3UL, &pub, &priv), CKR_OK);
	CK_ULONG sig_len = sizeof sig;
	expect("C_SignInit", CALL(C_SignInit, session, &ecdsa, priv), CKR_OK);
	expect("C_Sign", CALL(C_Sign, session, hash, 32UL, sig, &sig_len), CKR_OK);

	/* C_SetPIN pin.1 -> pin.2: both in one call, so two buffers (the second on the stack). */
	{
		unsigned char old_pin[64];
		load("pin.1");
		size_t old_len = secret_len;
		memcpy(old_pin, secret, old_len);
		wipe();
		load("pin.2");
		CK_RV rv = CALL(C_SetPIN, session, old_pin, (CK_ULONG)old_len, secret, (CK_ULONG)secret_len);
		wipe();
		explicit_bzero(old_pin, sizeof old_pin);
		expect("C_SetPIN(pin.1 -> pin.2)", rv, CKR_OK);
	}
	expect("C_Logout(user)", CALL(C_Logout, session), CKR_OK);
	login("C_Login(SO)", CKU_SO, "sopin", CKR_OK);
	load("pin.3");
	CK_RV rv = CALL(C_InitPIN, session, secret, (CK_ULONG)secret_len);
	wipe();
	expect("C_InitPIN(pin.3)", rv, CKR_OK);
	{
		/* C_SetPIN as SO: sopin -> sopin.2 (hex text, decoded by the module). */
		unsigned char old_pin[64];
		load("sopin");
		size_t old_len = secret_len;
		memcpy(old_pin, secret, old_len);
		wipe();
		load("sopin.2");
		rv = CALL(C_SetPIN, session, old_pin, (CK_ULONG)old_len, secret, (CK_ULONG)secret_len);
		wipe();
		explicit_bzero(old_pin, sizeof old_pin);
		expect("C_SetPIN(SO, sopin -> sopin.2)", rv, CKR_OK);
	}
	expect("C_Logout(SO)", CALL(C_Logout, session), CKR_OK);

	login("C_Login(user, pin.3)", CKU_USER, "pin.3", CKR_OK);
	CK_OBJECT_HANDLE dkek = find_one(CKO_SECRET_KEY, NULL, 0, "DKEK");
	CK_OBJECT_HANDLE imported = import_ec("key.import", 0x49, 0);
	CK_ULONG len = sizeof blob;
	expect("C_WrapKey(imported key)", CALL(C_WrapKey, session, &wrap, dkek, imported, blob, &len), CKR_OK);
	CK_OBJECT_HANDLE unwrapped = 0;
	unsigned char unwrap_id = 0x55;
	CK_ATTRIBUTE unwrap_t[] = {{CKA_CLASS, &cls_priv, sizeof cls_priv}, {CKA_ID, &unwrap_id, 1}};
	expect("C_UnwrapKey(restricted blob, 3.1 shim)",
	       CALL(C_UnwrapKey, session, &wrap, dkek, to_unwrap, to_unwrap_len, unwrap_t, 2UL, &unwrapped), CKR_OK);
	sig_len = sizeof sig;
	expect("C_SignInit(unwrapped, ECDSA_SHA256)", CALL(C_SignInit, session, &(CK_MECHANISM){CKM_ECDSA_SHA256, 0, 0}, unwrapped), CKR_OK);
	expect("C_Sign(unwrapped)", CALL(C_Sign, session, hash, 32UL, sig, &sig_len), CKR_OK);
	import_pkcs8(dkek, "key.pkcs8", 0x58);
	expect("C_Logout(user)", CALL(C_Logout, session), CKR_OK);
	scan("after-logout");
	expect("C_CloseAllSessions", CALL(C_CloseAllSessions, slot), CKR_OK);
	/* Last: re-initialising wipes the device (its DKEK too). */
	static unsigned char label[32];
	memset(label, ' ', sizeof label);
	memcpy(label, "memscan", 7);
	load("sopin.2");
	rv = CALL(C_InitToken, slot, secret, (CK_ULONG)secret_len, label);
	wipe();
	expect("C_InitToken", rv, CKR_OK);
	expect("C_Finalize", CALL(C_Finalize, NULL), CKR_OK);
	scan("after-finalize");
	print_steps();
	return failed ? 2 : 0;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: memscan MODULE DIR prep|run\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	quarantine = getenv("MEMSCAN_QUARANTINE") != NULL;
	dir = argv[2];
	module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!module) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	FUNCTIONS(RESOLVE)
	return strcmp(argv[3], "prep") == 0 ? prep() : run();
}
