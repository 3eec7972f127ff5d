#include "net.h"
#include "pkt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

void
sio_ref_release(enum sio_ref_kind kind, void *ref)
{
	switch (kind) {
	case SIO_REF_STATIC:
		break;
	case SIO_REF_RC:
		sio_rc_unref(ref);
		break;
	case SIO_REF_PKT:
		sio_pkt_unref(ref);
		break;
	}
}

void
sio_outq_push(struct sio_outq *q, const void *p, size_t len,
    enum sio_ref_kind kind, void *ref)
{
	if (len == 0) {
		sio_ref_release(kind, ref);
		return;
	}
	if (q->head == q->n) {
		q->head = q->n = 0;
	} else if (q->n == q->cap && q->head > q->cap / 2) {
		/* Mostly written: slide the live tail down instead of growing. */
		memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof *q->v);
		q->n -= q->head;
		q->head = 0;
	}
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 8;
		q->v = sio_xrealloc(q->v, q->cap * sizeof *q->v);
	}
	q->v[q->n++] = (struct sio_outref){ p, (uint32_t)len, (uint8_t)kind, ref };
	q->bytes += len;
}

void
sio_outq_copy(struct sio_outq *q, const void *p, size_t len)
{
	struct sio_rc *rc = sio_rc_from(p, len);
	sio_outq_push(q, rc->data, len, SIO_REF_RC, rc);
}

void
sio_outq_consume(struct sio_outq *q, size_t n)
{
	q->bytes -= n;
	while (n > 0) {
		struct sio_outref *r = &q->v[q->head];
		if (n >= r->len) {
			n -= r->len;
			sio_ref_release(r->kind, r->ref);
			q->head++;
		} else {
			r->p += n;
			r->len -= (uint32_t)n;
			n = 0;
		}
	}
	if (q->head == q->n)
		q->head = q->n = 0;
}

size_t
sio_outq_gather(const struct sio_outq *q, void *buf, size_t max)
{
	size_t n = 0;
	for (uint32_t i = q->head; i < q->n && n < max; i++) {
		size_t take = q->v[i].len < max - n ? q->v[i].len : max - n;
		memcpy((char *)buf + n, q->v[i].p, take);
		n += take;
	}
	return n;
}

int
sio_outq_flush(struct sio_outq *q, int fd)
{
	struct iovec iov[64];

	while (q->head < q->n) {
		int cnt = 0;
		for (uint32_t i = q->head; i < q->n && cnt < 64; i++, cnt++) {
			iov[cnt].iov_base = (void *)q->v[i].p;
			iov[cnt].iov_len = q->v[i].len;
		}
		ssize_t w = writev(fd, iov, cnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return SIO_EAGAIN;
			return SIO_ESYS;
		}
		sio_outq_consume(q, (size_t)w);
	}
	q->head = q->n = 0;
	return SIO_OK;
}

void
sio_outq_clear(struct sio_outq *q)
{
	for (uint32_t i = q->head; i < q->n; i++)
		sio_ref_release(q->v[i].kind, q->v[i].ref);
	free(q->v);
	memset(q, 0, sizeof *q);
}

int
sio_net_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

int
sio_net_listen_tcp(const char *host, int port, char *err)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char portstr[16];
	int fd = -1, one = 1;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%d", port);
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, SIO_ERRLEN, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		snprintf(err, SIO_ERRLEN, "cannot listen on %s:%d: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	if (fd < 0 && res == NULL)
		snprintf(err, SIO_ERRLEN, "cannot listen on %s:%d", host, port);
	freeaddrinfo(res);
	return fd;
}

int
sio_net_listen_unix(const char *path, unsigned mode, char *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, SIO_ERRLEN, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, SIO_ERRLEN, "socket: %s", strerror(errno));
		return -1;
	}
	/* Is someone accepting on that path? Then it is a live hub: leave it. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
			close(probe);
			close(fd);
			snprintf(err, SIO_ERRLEN,
			    "%s: another hub is already listening there", path);
			return -1;
		}
		close(probe);
	}
	unlink(path);
	/* Create it with the final mode: no window where others could connect. */
	mode_t old = umask(0777 & ~mode);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || listen(fd, 128) < 0) {
		snprintf(err, SIO_ERRLEN, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void
sio_net_peer(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[INET6_ADDRSTRLEN];

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(out, outlen, "?");
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(out, outlen, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(out, outlen, "unix");
	}
}
