/*
 * ctl (server side): the control socket, its clients, reading requests
 * and answering them. The requests themselves are in ctlemit.c,
 * ctlstream.c and ctlquery.c (ctlsrv.h). One struct sio_conn per client,
 * so output shares the hub's queues, batching and reaper.
 */
#include "ctlsrv.h"
#include "hub.h"
#include "log.h"
#include "net.h"
#include "stats.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- answering ---------------------------------------------------------- */

void
sio_ctl_send_line(struct ctl_client *cl, struct sio_buf *b)
{
	sio_buf_addc(b, '\n');
	sio_outq_copy(&cl->conn->out, b->data, b->len);
	sio_conn_want_flush(cl->conn);
}

void
sio_ctl_begin_answer(struct sio_buf *b, const struct req *r)
{
	sio_buf_addc(b, '{');
	if (r->id) {
		sio_buf_adds(b, "\"id\":");
		sio_buf_add(b, r->id, r->idlen);
		sio_buf_addc(b, ',');
	}
}

void
sio_ctl_answer_error(struct ctl_client *cl, const struct req *r, const char *code,
    const char *fmt, ...)
{
	struct sio_buf b = SIO_BUF_INIT;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof msg) {
		/* Cut at a character boundary: the answer must stay UTF-8. */
		size_t end = sizeof msg - 1;
		while (end > 0 && ((unsigned char)msg[end - 1] & 0xc0) == 0x80)
			end--;
		if (end > 0 && ((unsigned char)msg[end - 1] & 0x80))
			end--;	/* the lead byte of the cut character */
		msg[end] = '\0';
	}
	sio_hub_stats(cl->ctl->hub)->ctl_errors++;
	sio_ctl_begin_answer(&b, r);
	sio_buf_printf(&b, "\"line\":%lu,\"error\":{\"code\":\"%s\",\"message\":", cl->line, code);
	sio_json_add_str(&b, msg, strlen(msg));
	sio_buf_adds(&b, "}}");
	sio_ctl_send_line(cl, &b);
	sio_buf_free(&b);
	sio_log_debug("control client: line %lu: %s", cl->line, msg);
}

/* Answers {"id":..,"ok":true<extra>} when the request had an id. */
void
sio_ctl_answer_ok(struct ctl_client *cl, const struct req *r, const char *extra)
{
	struct sio_buf b = SIO_BUF_INIT;
	if (!r->id)
		return;
	sio_ctl_begin_answer(&b, r);
	sio_buf_adds(&b, "\"ok\":true");
	if (extra)
		sio_buf_adds(&b, extra);
	sio_buf_addc(&b, '}');
	sio_ctl_send_line(cl, &b);
	sio_buf_free(&b);
}

/* ---- targets -------------------------------------------------------------- */

void
sio_ctl_strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/*
 * Reads an array of strings (absent: empty). On a wrong type answers the
 * error and returns false.
 */
bool
sio_ctl_strv_field(struct ctl_client *cl, const struct req *r, const char *key, struct strv *out)
{
	int i = field(r, key);
	out->v = NULL;
	out->n = 0;
	if (i < 0 || tok(r, i)->type == SIO_JSON_NULL)
		return true;
	if (tok(r, i)->type != SIO_JSON_ARRAY) {
		sio_ctl_answer_error(cl, r, "bad_request", "'%s' must be an array of strings", key);
		return false;
	}
	if (tok(r, i)->size > CTL_MAX_TARGETS) {
		sio_ctl_answer_error(cl, r, "limit", "'%s' has more than %d entries", key, CTL_MAX_TARGETS);
		return false;
	}
	out->v = sio_xcalloc(tok(r, i)->size + 1, sizeof *out->v);
	for (int k = i + 1; out->n < tok(r, i)->size; k = (int)tok(r, k)->next) {
		if (tok(r, k)->type != SIO_JSON_STRING) {
			sio_ctl_strv_free(out);
			sio_ctl_answer_error(cl, r, "bad_request", "'%s' must be an array of strings", key);
			return false;
		}
		struct sio_buf b = SIO_BUF_INIT;
		sio_json_str_decode(r->doc, r->text, k, &b);
		out->v[out->n++] = sio_buf_steal(&b, NULL);
	}
	return true;
}

/*
 * Reads nsp, the rooms (from each key in room_keys, joined: "to", or
 * "sids" and "in") and "except". Returns false after answering an error.
 */
bool
sio_ctl_target_read(struct ctl_client *cl, const struct req *r, struct target *tg,
    const char *const *room_keys, size_t nkeys)
{
	memset(tg, 0, sizeof *tg);
	if (field(r, "nsp") >= 0 && !str_field(r, "nsp", &tg->nsp)) {
		sio_ctl_answer_error(cl, r, "bad_request", "'nsp' must be a string");
		sio_buf_free(&tg->nsp);
		return false;
	}
	if (tg->nsp.len == 0)
		sio_buf_adds(&tg->nsp, "/");
	for (size_t k = 0; k < nkeys; k++) {
		struct strv more;
		if (!sio_ctl_strv_field(cl, r, room_keys[k], &more)) {
			sio_ctl_strv_free(&tg->rooms);
			sio_buf_free(&tg->nsp);
			return false;
		}
		tg->rooms.v = sio_xrealloc(tg->rooms.v, (tg->rooms.n + more.n + 1) * sizeof(char *));
		for (size_t i = 0; i < more.n; i++)
			tg->rooms.v[tg->rooms.n++] = more.v[i];
		free(more.v);
	}
	if (!sio_ctl_strv_field(cl, r, "except", &tg->except)) {
		sio_ctl_strv_free(&tg->rooms);
		sio_buf_free(&tg->nsp);
		return false;
	}
	tg->t.nsp = tg->nsp.data;
	tg->t.rooms = (const char *const *)tg->rooms.v;
	tg->t.nrooms = tg->rooms.n;
	tg->t.except = (const char *const *)tg->except.v;
	tg->t.nexcept = tg->except.n;
	return true;
}

void
sio_ctl_target_free(struct target *tg)
{
	sio_buf_free(&tg->nsp);
	sio_ctl_strv_free(&tg->rooms);
	sio_ctl_strv_free(&tg->except);
}

/* ---- reading requests ----------------------------------------------------- */

static void
handle_line(struct ctl_client *cl, const char *text, size_t len)
{
	struct sio_ctl *ctl = cl->ctl;
	struct req r = { text, len, &ctl->doc, NULL, 0 };
	char err[SIO_ERRLEN];
	struct sio_buf op = SIO_BUF_INIT;

	cl->line++;
	sio_hub_stats(ctl->hub)->ctl_requests++;
	while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	if (sio_json_parse(&ctl->doc, text, len, CTL_MAX_DEPTH, err) != SIO_OK) {
		sio_ctl_answer_error(cl, &r, "bad_json", "%s", err);
		return;
	}
	if (ctl->doc.tok[0].type != SIO_JSON_OBJECT) {
		sio_ctl_answer_error(cl, &r, "bad_request", "a request must be a JSON object");
		return;
	}
	int ii = field(&r, "id");
	if (ii >= 0) {
		if (tok(&r, ii)->type == SIO_JSON_OBJECT || tok(&r, ii)->type == SIO_JSON_ARRAY) {
			sio_ctl_answer_error(cl, &r, "bad_request", "'id' must be a string or a number");
			return;
		}
		r.id = text + tok(&r, ii)->start;
		r.idlen = tok(&r, ii)->end - tok(&r, ii)->start;
	}
	if (!str_field(&r, "op", &op)) {
		sio_ctl_answer_error(cl, &r, "bad_request", "'op' must be a string naming the request");
		return;
	}
	if (strcmp(op.data, "emit") == 0)
		sio_ctl_op_emit(cl, &r);
	else if (strcmp(op.data, "subscribe") == 0)
		sio_ctl_op_subscribe(cl, &r);
	else if (strcmp(op.data, "reply") == 0)
		sio_ctl_op_reply(cl, &r);
	else if (strcmp(op.data, "done") == 0)
		sio_ctl_op_done(cl, &r);
	else if (strcmp(op.data, "rooms") == 0)
		sio_ctl_op_rooms(cl, &r);
	else if (strcmp(op.data, "members") == 0)
		sio_ctl_op_members(cl, &r);
	else if (strcmp(op.data, "sockets") == 0)
		sio_ctl_op_sockets(cl, &r);
	else if (strcmp(op.data, "join") == 0 || strcmp(op.data, "leave") == 0 ||
	    strcmp(op.data, "disconnect") == 0)
		sio_ctl_op_change(cl, &r, op.data);
	else if (strcmp(op.data, "count") == 0)
		sio_ctl_op_count(cl, &r);
	else if (strcmp(op.data, "ping") == 0) {
		struct req copy = r;
		if (!copy.id) {
			copy.id = "null";
			copy.idlen = 4;
		}
		sio_ctl_answer_ok(cl, &copy, NULL);
	} else
		sio_ctl_answer_error(cl, &r, "unknown_op", "unknown op '%s'", op.data);
	sio_buf_free(&op);
}

void
sio_ctl_process(struct sio_conn *c)
{
	struct ctl_client *cl = (struct ctl_client *)c->ctl;
	size_t off = 0;
	size_t max = sio_hub_max_control_line(sio_hub_cfg(c->hub));

	/* Resumed with nothing read: an idle connection has no buffer at all. */
	if (c->in.len == 0)
		return;
	if (cl->skipping) {
		char *nl = memchr(c->in.data, '\n', c->in.len);
		if (!nl) {
			sio_buf_reset(&c->in);
			return;
		}
		off = (size_t)(nl - c->in.data) + 1;
		cl->skipping = false;
	}
	while (!c->closed && !cl->paused && off < c->in.len) {
		if (c->out.bytes > CTL_MAX_ANSWERS) {
			cl->paused_out = true;
			sio_conn_pause_reading(c, true);
			break;
		}
		char *nl = memchr(c->in.data + off, '\n', c->in.len - off);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (c->in.data + off));
		if (len > max) {
			/* Whole but too long: the same answer as one still coming. */
			struct req r = { "", 0, NULL, NULL, 0 };
			cl->line++;
			sio_ctl_answer_error(cl, &r, "limit", "line longer than %zu bytes", max);
		} else {
			handle_line(cl, c->in.data + off, len);
		}
		off = (size_t)(nl - c->in.data) + 1;
	}
	sio_buf_consume(&c->in, off);
	if (!c->closed && !cl->paused && !cl->paused_out && c->in.len > max) {
		/* Refuse the line, drop it up to its newline, go on with the next. */
		struct req r = { "", 0, NULL, NULL, 0 };
		cl->line++;
		sio_ctl_answer_error(cl, &r, "limit", "line longer than %zu bytes", max);
		sio_buf_reset(&c->in);
		cl->skipping = true;
	}
}

/* ---- lifecycle --------------------------------------------------------------- */

static void
client_closed(struct sio_conn *c, const char *reason)
{
	struct ctl_client *cl = (struct ctl_client *)c->ctl;
	struct sio_ctl *ctl = cl->ctl;
	(void)reason;

	for (struct ack_wait *w = ctl->waits, *next; w; w = next) {
		next = w->next;
		if (w->cl == cl)
			sio_ctl_ack_wait_free(ctl, w);
	}
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ctl->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	sio_ctl_unsubscribe(cl);
	free(cl);
	c->ctl = NULL;
}

static void
client_drained(struct sio_conn *c)
{
	struct ctl_client *cl = (struct ctl_client *)c->ctl;
	if (!cl)
		return;
	if (cl->dropped && !cl->group) {
		/* Caught up: tell it now what it missed, not at the next event. */
		sio_ctl_dropped_note(cl);
		sio_conn_want_flush(c);
	}
	if (!cl->paused_out)
		return;
	cl->paused_out = false;
	if (!cl->paused) {
		sio_conn_pause_reading(c, false);
		sio_ctl_process(c);
	}
}

/* Is gid among the supplementary groups of process pid? */
static bool
pid_in_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (unsigned long g; (g = strtoul(p, &end, 10)), end != p; p = end)
			if (g == gid)
				found = true;
		break;
	}
	fclose(f);
	return found;
}

/*
 * The file mode already keeps others out; this says so to the kernel's
 * face as well (SO_PEERCRED), so a socket file left open by mistake,
 * or one passed around, still lets in only our user, root and, with
 * --control-group, that group's members.
 */
static bool
peer_allowed(struct sio_ctl *ctl, int fd, char *who, size_t wholen)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		snprintf(who, wholen, "unknown peer");
		return false;
	}
	snprintf(who, wholen, "uid %ld pid %ld", (long)cr.uid, (long)cr.pid);
	if (cr.uid == geteuid() || cr.uid == 0)
		return true;
	return ctl->has_group && (cr.gid == ctl->group || pid_in_group(cr.pid, ctl->group));
}

/*
 * A refused peer is told why, then its input is read and dropped until it
 * closes (at most a second): closing at once would make its first write
 * fail before it could read the reason.
 */
struct refusal {
	ev_io io;
	ev_timer timer;
	int fd;
	struct sio_ctl *ctl;
	struct refusal *prev, *next;
};

static void
refusal_end(EV_P_ struct refusal *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->ctl->refusals = r->next;
	if (r->next)
		r->next->prev = r->prev;
	ev_io_stop(EV_A, &r->io);
	ev_timer_stop(EV_A, &r->timer);
	close(r->fd);
	free(r);
}

static void
refusal_read_cb(EV_P_ ev_io *w, int revents)
{
	struct refusal *r = SIO_CONTAINER_OF(w, struct refusal, io);
	char buf[4096];
	(void)revents;
	ssize_t n = read(r->fd, buf, sizeof buf);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		refusal_end(EV_A, r);
}

static void
refusal_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	(void)revents;
	refusal_end(EV_A, SIO_CONTAINER_OF(w, struct refusal, timer));
}

static void
refuse_peer(struct sio_ctl *ctl, int fd)
{
	static const char msg[] = "{\"error\":{\"code\":\"forbidden\","
	    "\"message\":\"this user may not use the control socket\"}}\n";
	struct ev_loop *loop = sio_hub_loop(ctl->hub);
	ssize_t wr = write(fd, msg, sizeof msg - 1);
	(void)wr;	/* a fresh socket takes it; if not, the close says enough */
	shutdown(fd, SHUT_WR);
	struct refusal *r = sio_xcalloc(1, sizeof *r);
	r->fd = fd;
	r->ctl = ctl;
	r->next = ctl->refusals;
	if (r->next)
		r->next->prev = r;
	ctl->refusals = r;
	ev_io_init(&r->io, refusal_read_cb, fd, EV_READ);
	ev_timer_init(&r->timer, refusal_timeout_cb, 1.0, 0.);
	ev_io_start(loop, &r->io);
	ev_timer_start(loop, &r->timer);
}

static void
accept_retry_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_ctl *ctl = SIO_CONTAINER_OF(w, struct sio_ctl, accept_retry);
	(void)revents;
	ev_io_start(EV_A, &ctl->accept_io);
}

static void
accept_cb(EV_P_ ev_io *w, int revents)
{
	struct sio_ctl *ctl = SIO_CONTAINER_OF(w, struct sio_ctl, accept_io);
	(void)EV_A;
	(void)revents;

	for (int i = 0; i < 16; i++) {
		int fd = accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* The listener stays readable: without a pause the
				 * loop would spin on it until a descriptor frees. */
				sio_log_warn("control socket: accept: %s; pausing for 0.5 s",
				    strerror(errno));
				ev_io_stop(EV_A, &ctl->accept_io);
				ev_timer_set(&ctl->accept_retry, 0.5, 0.);	/* see hub.c */
				ev_timer_start(EV_A, &ctl->accept_retry);
			}
			return;
		}
		char who[64];
		if (!peer_allowed(ctl, fd, who, sizeof who)) {
			sio_log_warn("control socket: %s refused: not our user, root or "
			    "the control group", who);
			refuse_peer(ctl, fd);
			continue;
		}
		struct sio_conn *c = sio_conn_new_ctl(ctl->hub, fd);
		struct ctl_client *cl = sio_xcalloc(1, sizeof *cl);
		cl->serial = ++ctl->next_serial;
		cl->conn = c;
		cl->ctl = ctl;
		cl->held_tail = &cl->held;
		cl->next = ctl->clients;
		if (ctl->clients)
			ctl->clients->prev = cl;
		ctl->clients = cl;
		c->ctl = (struct sio_ctl_client *)cl;
		c->on_close = client_closed;
		c->on_drain = client_drained;
	}
}

/*
 * Creates the socket's directory 0700 (0710 with a control group, so its
 * members may reach the socket inside). When the hub made it (the
 * default path, or one it created now), it must be ours and closed to
 * others: a directory someone else made first in /tmp could let them
 * swap the socket.
 */
static int
make_parent_dir(const char *path, bool is_default, const gid_t *group, char *err)
{
	char *dir = sio_xstrdup(path);
	char *slash = strrchr(dir, '/');
	struct stat st;
	int rc = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		bool made = mkdir(dir, 0700) == 0;
		if (made && group && (chown(dir, (uid_t)-1, *group) < 0 || chmod(dir, 0710) < 0)) {
			snprintf(err, SIO_ERRLEN, "cannot give %s to the control group: %s", dir,
			    strerror(errno));
			rc = -1;
		} else if (!made && errno != EEXIST) {
			snprintf(err, SIO_ERRLEN, "cannot create %s: %s", dir, strerror(errno));
			rc = -1;
		} else if (is_default && (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid() || (st.st_mode & 007) != 0 ||
		    ((st.st_mode & 070) != 0 && !(group && st.st_gid == *group &&
		    (st.st_mode & 060) == 0)))) {
			snprintf(err, SIO_ERRLEN, "%s must be a directory of yours that only "
			    "you can use (mode 0700, or 0710 for the control group); not using it",
			    dir);
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

/* --control-group: a group name or number. */
static int
resolve_group(const char *name, gid_t *gid, char *err)
{
	struct group *gr = getgrnam(name);
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	if (gr) {
		*gid = gr->gr_gid;
		return SIO_OK;
	}
	if (*name && !*end) {
		*gid = (gid_t)n;
		return SIO_OK;
	}
	snprintf(err, SIO_ERRLEN, "control-group: no group named '%.100s'", name);
	return SIO_EINVAL;
}

struct sio_ctl *
sio_ctl_new(struct sio_hub *hub, struct sio_server *srv, const char *path, char *err)
{
	const char *group_name = sio_hub_cfg(hub)->control_group;
	gid_t gid = 0;

	if (group_name && resolve_group(group_name, &gid, err) != SIO_OK)
		return NULL;
	if (make_parent_dir(path, sio_ctl_path_is_builtin(path), group_name ? &gid : NULL,
	    err) < 0)
		return NULL;
	int fd = sio_net_listen_unix(path, group_name ? 0660 : 0600, err);
	if (fd < 0)
		return NULL;
	if (group_name && chown(path, (uid_t)-1, gid) < 0) {
		snprintf(err, SIO_ERRLEN, "cannot give %.100s to the control group: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return NULL;
	}
	struct sio_ctl *ctl = sio_xcalloc(1, sizeof *ctl);
	ctl->hub = hub;
	ctl->srv = srv;
	ctl->path = sio_xstrdup(path);
	ctl->lfd = fd;
	ctl->has_group = group_name != NULL;
	ctl->group = gid;
	ev_io_init(&ctl->accept_io, accept_cb, fd, EV_READ);
	ev_io_start(sio_hub_loop(hub), &ctl->accept_io);
	ev_timer_init(&ctl->accept_retry, accept_retry_cb, 0.5, 0.);
	struct sio_observer o = {
		.on_connect = sio_ctl_on_connect,
		.on_event = sio_ctl_on_event,
		.on_ack = sio_ctl_on_ack,
		.on_disconnect = sio_ctl_on_disconnect,
		.arg = ctl,
	};
	sio_server_observe(srv, &o);
	return ctl;
}

void
sio_ctl_counts(const struct sio_ctl *ctl, size_t *clients, size_t *subscribers)
{
	*clients = *subscribers = 0;
	for (const struct ctl_client *cl = ctl ? ctl->clients : NULL; cl; cl = cl->next) {
		(*clients)++;
		if (cl->subscribed)
			(*subscribers)++;
	}
}

void
sio_ctl_resume(struct sio_ctl *ctl)
{
	if (!ctl)
		return;
	for (struct ctl_client *cl = ctl->clients; cl; cl = cl->next) {
		if (!cl->paused || cl->conn->closed)
			continue;
		cl->paused = false;
		if (cl->paused_out)
			continue;	/* it resumes when its answers are read */
		sio_conn_pause_reading(cl->conn, false);
		sio_ctl_process(cl->conn);
	}
}

void
sio_ctl_free(struct sio_ctl *ctl)
{
	if (!ctl)
		return;
	ev_io_stop(sio_hub_loop(ctl->hub), &ctl->accept_io);
	ev_timer_stop(sio_hub_loop(ctl->hub), &ctl->accept_retry);
	close(ctl->lfd);
	unlink(ctl->path);
	while (ctl->clients)
		sio_conn_close(ctl->clients->conn, "shutdown");
	while (ctl->refusals)
		refusal_end(sio_hub_loop(ctl->hub), ctl->refusals);
	sio_json_free(&ctl->doc);
	free(ctl->path);
	free(ctl);
}
