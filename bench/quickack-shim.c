/*
 * LD_PRELOAD shim: setsockopt(IPPROTO_TCP, TCP_QUICKACK) becomes a no-op that reports success.
 *
 * Why: Dovecot re-arms TCP_QUICKACK on the client socket after its reads, so the kernel ACKs at
 * once and a client that splits command line / literal / CRLF over several writes with Nagle on
 * never waits for a delayed ACK (shared/docs/measurements.md: a stock Dovecot does NOT show the 40+ ms stall).
 * Servers seen in the field do not do this. With this shim the delayed-ACK ("pingpong") mode of
 * Linux (tcp_pingpong_thresh=1) stays in force and the stall the report describes reappears:
 * Python imaplib drops to ~23 msg/s, as measured.
 *
 * Build: cc -shared -fPIC -o shim.so bench/quickack-shim.c -ldl   (test/helpers/dovecot.ts does this)
 * Every other setsockopt() call goes to the real libc function, looked up once with dlsym(RTLD_NEXT).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>

typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	static setsockopt_fn real_setsockopt;

	if (level == IPPROTO_TCP && optname == TCP_QUICKACK)
		return 0; /* pretend it worked; the kernel keeps its delayed-ACK behaviour */
	if (real_setsockopt == NULL) {
		real_setsockopt = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
		if (real_setsockopt == NULL) {
			errno = ENOSYS;
			return -1;
		}
	}
	return real_setsockopt(fd, level, optname, optval, optlen);
}
