/*
 * The floor under every PKCS#11 module: the client CPU time of one SIGN APDU sent with bare
 * pcsc-lite calls (SCardTransmit, no transaction, no PKCS#11), for the benchmark's scenario d.
 * A module's CPU per signature cannot go below this; see docs/benchmarks.md.
 *
 * Usage: pcsc_floor READER PIN KEY-ID COUNT   (prints the microseconds per SIGN)
 */
#include <PCSC/winscard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu_us(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

static int send(SCARDHANDLE h, const unsigned char *c, DWORD n)
{
	unsigned char r[600];
	DWORD len = sizeof r;
	if (SCardTransmit(h, SCARD_PCI_T1, c, n, NULL, r, &len) != SCARD_S_SUCCESS || len < 2)
		return -1;
	return r[len - 2] << 8 | r[len - 1];
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: pcsc_floor READER PIN KEY-ID COUNT\n");
		return 2;
	}
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	DWORD proto;
	if (SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &ctx) ||
	    SCardConnect(ctx, argv[1], SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h, &proto)) {
		fprintf(stderr, "pcsc_floor: cannot connect to %s\n", argv[1]);
		return 2;
	}
	static const unsigned char select[] = {0x00, 0xA4, 0x04, 0x04, 0x0B, 0xE8, 0x2B, 0x06, 0x01, 0x04,
					       0x01, 0x81, 0xC3, 0x1F, 0x02, 0x01, 0x00};
	unsigned char verify[5 + 16] = {0x00, 0x20, 0x00, 0x81};
	size_t pin = strlen(argv[2]);
	if (pin > 16)
		return 2;
	verify[4] = (unsigned char)pin;
	memcpy(verify + 5, argv[2], pin);
	/* SIGN, ECDSA over a 32-byte hash, extended Lc and Le. */
	unsigned char sign[7 + 32 + 2] = {0x80, 0x68, (unsigned char)strtol(argv[3], NULL, 16), 0x70, 0x00, 0x00, 0x20};
	int count = atoi(argv[4]);
	if (send(h, select, sizeof select) != 0x9000 || send(h, verify, 5 + pin) != 0x9000) {
		fprintf(stderr, "pcsc_floor: SELECT or VERIFY failed\n");
		return 1;
	}
	double t0 = cpu_us();
	for (int i = 0; i < count; i++) {
		sign[7] = (unsigned char)i;
		if (send(h, sign, sizeof sign) != 0x9000) {
			fprintf(stderr, "pcsc_floor: SIGN failed\n");
			return 1;
		}
	}
	printf("%.2f\n", (cpu_us() - t0) / count);
	/* Leave no verified PIN behind: SELECT logs out (as the modules do), no reset. */
	send(h, select, sizeof select);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return 0;
}
