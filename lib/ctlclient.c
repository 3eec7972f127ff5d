/*
 * ctl (client side): what the tools link to talk to the hub. Blocking
 * I/O with poll() for timeouts: a tool has one conversation at a time.
 */
#include "ctl.h"
#include "json.h"
#include "packet.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char *
builtin_path(void)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	struct sio_buf b = SIO_BUF_INIT;

	if (rt && *rt)
		sio_buf_printf(&b, "%s/sio/hub.sock", rt);
	else
		sio_buf_printf(&b, "/tmp/sio-%u/hub.sock", (unsigned)getuid());
	return sio_buf_steal(&b, NULL);
}

char *
sio_ctl_path(const char *explicit_path)
{
	const char *env = getenv("SIO_SOCKET");

	if (explicit_path && *explicit_path)
		return sio_xstrdup(explicit_path);
	if (env && *env)
		return sio_xstrdup(env);
	return builtin_path();
}

bool
sio_ctl_path_is_builtin(const char *path)
{
	char *def = builtin_path();
	bool same = strcmp(def, path) == 0;
	free(def);
	return same;
}

int
sio_ctl_connect(struct sio_ctl_conn *c, const char *path, char *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, SIO_ERRLEN, "socket path too long: %s", path);
		errno = ENAMETOOLONG;
		return SIO_ESYS;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		snprintf(err, SIO_ERRLEN, "cannot reach the hub at %s: %s%s", path, strerror(e),
		    e == ENOENT || e == ECONNREFUSED ? " (is sio-hub running? -S or SIO_SOCKET "
		    "names another socket)" : "");
		if (fd >= 0)
			close(fd);
		errno = e;
		return SIO_ESYS;
	}
	c->fd = fd;
	return SIO_OK;
}

void
sio_ctl_close(struct sio_ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sio_buf_free(&c->in);
	free(c->parting);
	c->parting = NULL;
}

const char *
sio_ctl_gone(const struct sio_ctl_conn *c)
{
	return c->parting ? c->parting : "the hub went away";
}

/*
 * An error line that answers no request is the hub's parting word (a
 * refusal before it closes): keep its message for sio_ctl_gone().
 */
static void
note_parting(struct sio_ctl_conn *c, const char *line, size_t len)
{
	struct sio_json doc = SIO_JSON_INIT;
	struct sio_buf msg = SIO_BUF_INIT;

	if (len < 9 || strncmp(line, "{\"error\":", 9) != 0 ||
	    sio_json_parse(&doc, line, len, 8, NULL) != SIO_OK)
		goto out;
	int e = sio_json_get(&doc, line, 0, "error");
	int m = e >= 0 && doc.tok[e].type == SIO_JSON_OBJECT ?
	    sio_json_get(&doc, line, e, "message") : -1;
	if (m >= 0 && doc.tok[m].type == SIO_JSON_STRING) {
		sio_json_str_decode(&doc, line, m, &msg);
		free(c->parting);
		c->parting = sio_xstrdup(msg.data);
	}
out:
	sio_buf_free(&msg);
	sio_json_free(&doc);
}

int
sio_ctl_write(struct sio_ctl_conn *c, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return SIO_ESYS;
		}
		s += w;
		n -= (size_t)w;
	}
	return SIO_OK;
}

int
sio_ctl_read_line(struct sio_ctl_conn *c, int timeout_ms, const char **line, size_t *len)
{
	/* Drop the line handed out last time. */
	if (c->scan > 0) {
		sio_buf_consume(&c->in, c->scan);
		c->scan = 0;
	}
	for (;;) {
		char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
		if (nl) {
			*line = c->in.data;
			*len = (size_t)(nl - c->in.data);
			*nl = '\0';
			c->scan = *len + 1;
			note_parting(c, *line, *len);
			return SIO_OK;
		}
		struct pollfd pfd = { c->fd, POLLIN, 0 };
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return SIO_ESYS;
		}
		if (r == 0)
			return SIO_EAGAIN;
		sio_buf_reserve(&c->in, 65536);
		ssize_t n = read(c->fd, c->in.data + c->in.len, 65536);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECONNRESET ? SIO_ECLOSED : SIO_ESYS;
		}
		if (n == 0)
			return SIO_ECLOSED;
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = '\0';
	}
}

int
sio_ctl_request(struct sio_ctl_conn *c, const char *line, size_t len, int timeout_ms,
    struct sio_buf *answer, char *err)
{
	const char *l;
	size_t n;

	if (sio_ctl_write(c, line, len) != SIO_OK) {
		snprintf(err, SIO_ERRLEN, "%s: %s", sio_ctl_gone(c), strerror(errno));
		return SIO_ECLOSED;
	}
	for (;;) {
		int rc = sio_ctl_read_line(c, timeout_ms, &l, &n);
		if (rc == SIO_EAGAIN) {
			snprintf(err, SIO_ERRLEN, "no answer from the hub in %d ms", timeout_ms);
			return rc;
		}
		if (rc != SIO_OK) {
			snprintf(err, SIO_ERRLEN, "%s", sio_ctl_gone(c));
			return SIO_ECLOSED;
		}
		/* Event lines of a subscription may come first: skip them. */
		if (n > 6 && strncmp(l, "{\"id\":", 6) == 0) {
			sio_buf_reset(answer);
			sio_buf_add(answer, l, n);
			return SIO_OK;
		}
	}
}

void
sio_json_add_strv(struct sio_buf *b, const char *const *v, size_t n)
{
	sio_buf_addc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sio_buf_addc(b, ',');
		sio_json_add_str(b, v[i], strlen(v[i]));
	}
	sio_buf_addc(b, ']');
}

static int
bad(char *err, const char *msg)
{
	snprintf(err, SIO_ERRLEN, "%s", msg);
	return SIO_EPROTO;
}

static bool
is_strv(const struct sio_json *doc, int i)
{
	if (doc->tok[i].type != SIO_JSON_ARRAY)
		return false;
	for (int k = i + 1; k < (int)doc->tok[i].next; k = (int)doc->tok[k].next)
		if (doc->tok[k].type != SIO_JSON_STRING)
			return false;
	return true;
}

int
sio_ctl_input_line(struct sio_buf *out, struct sio_json *doc, const char *line, size_t len,
    const struct sio_emit_defaults *d, const char *id, char *err)
{
	char perr[SIO_ERRLEN];

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (sio_json_parse(doc, line, len, 64, perr) != SIO_OK) {
		snprintf(err, SIO_ERRLEN, "%s", perr);
		return SIO_EPROTO;
	}
	const struct sio_json_tok *t = doc->tok;
	if (t[0].type != SIO_JSON_OBJECT)
		return bad(err, "expected a JSON object such as {\"event\":\"news\",\"data\":[1]}");
	bool has[6] = { false };
	static const char *const keys[] = { "event", "data", "to", "except", "nsp", "volatile" };
	bool reply = false;
	for (int k = 1; k < (int)t[0].next; k = (int)t[t[k].next].next) {
		int v = (int)t[k].next;
		size_t i;
		if (sio_json_str_eq(doc, line, k, "reply")) {
			if (t[v].type != SIO_JSON_STRING)
				return bad(err, "'reply' must be an ack handle (a string)");
			reply = true;
			continue;
		}
		for (i = 0; i < 6 && !sio_json_str_eq(doc, line, k, keys[i]); i++)
			;
		if (i == 6) {
			struct sio_buf name = SIO_BUF_INIT;
			sio_json_str_decode(doc, line, k, &name);
			snprintf(err, SIO_ERRLEN, "unknown key '%.64s' (event, data, to, except, "
			    "nsp, volatile, reply)", name.data);
			sio_buf_free(&name);
			return SIO_EPROTO;
		}
		has[i] = true;
		if ((i == 0 || i == 4) && t[v].type != SIO_JSON_STRING)
			return bad(err, i == 0 ? "'event' must be a string" : "'nsp' must be a string");
		if (i == 1 && t[v].type != SIO_JSON_ARRAY)
			return bad(err, "'data' must be an array of the event's arguments");
		if ((i == 2 || i == 3) && !is_strv(doc, v))
			return bad(err, i == 2 ? "'to' must be an array of strings" :
			    "'except' must be an array of strings");
		if (i == 5 && t[v].type != SIO_JSON_TRUE && t[v].type != SIO_JSON_FALSE)
			return bad(err, "'volatile' must be true or false");
		if (i == 0) {
			struct sio_buf name = SIO_BUF_INIT;
			sio_json_str_decode(doc, line, v, &name);
			bool reserved = name.len == 0 || sio_event_reserved(name.data, name.len);
			sio_buf_free(&name);
			if (reserved)
				return bad(err, "'event' is empty or a reserved name (connect, "
				    "connect_error, disconnect, disconnecting, newListener, removeListener)");
		}
	}
	if (reply && (has[0] || has[2] || has[3] || has[5]))
		return bad(err, "a reply takes only 'reply' and 'data'");
	if (!reply && !has[0])
		return bad(err, "missing 'event' (or 'reply' to answer an ack)");

	sio_buf_adds(out, reply ? "{\"op\":\"reply\"" : "{\"op\":\"emit\"");
	if (id) {
		sio_buf_adds(out, ",\"id\":");
		sio_buf_adds(out, id);
	}
	if (!reply) {
		if (!has[4] && d->nsp) {
			sio_buf_adds(out, ",\"nsp\":");
			sio_json_add_str(out, d->nsp, strlen(d->nsp));
		}
		if (!has[2] && d->nto) {
			sio_buf_adds(out, ",\"to\":");
			sio_json_add_strv(out, d->to, d->nto);
		}
		if (!has[3] && d->nexcept) {
			sio_buf_adds(out, ",\"except\":");
			sio_json_add_strv(out, d->except, d->nexcept);
		}
		if (!has[5] && d->is_volatile)
			sio_buf_adds(out, ",\"volatile\":true");
		if (d->ack)
			sio_buf_printf(out, ",\"ack\":true,\"timeout_ms\":%lld", d->timeout_ms);
	}
	if (t[0].size > 0) {
		sio_buf_addc(out, ',');
		/* The object's members as the user wrote them; a line break
		 * can only be white space there, and would end the request. */
		size_t from = out->len;
		sio_buf_add(out, line + t[1].start, t[0].end - 1 - t[1].start);
		for (size_t i = from; i < out->len; i++)
			if (out->data[i] == '\n' || out->data[i] == '\r')
				out->data[i] = ' ';
	}
	sio_buf_adds(out, "}\n");
	return SIO_OK;
}
