#include "files.h"
#include "conn.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (64u << 20)

struct sio_files {
	char *root;		/* realpath of the directory */
	size_t rootlen;
};

static const struct {
	const char *ext, *type;
} types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "ico", "image/x-icon" },
	{ "wasm", "application/wasm" },
	{ "woff2", "font/woff2" },
	{ "woff", "font/woff" },
};

static const char *
content_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof types / sizeof *types; i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

struct sio_files *
sio_files_new(const char *dir, char *err)
{
	char *real = realpath(dir, NULL);
	struct stat st;

	if (!real || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, SIO_ERRLEN, "--static %s: %s", dir,
		    real ? "not a directory" : strerror(errno));
		free(real);
		return NULL;
	}
	struct sio_files *f = sio_xcalloc(1, sizeof *f);
	f->root = real;
	f->rootlen = strlen(real);
	return f;
}

void
sio_files_free(struct sio_files *f)
{
	if (!f)
		return;
	free(f->root);
	free(f);
}

static void
answer(struct sio_conn *c, int status, const char *msg)
{
	sio_web_respond(c, status, "text/plain; charset=utf-8", NULL, msg, strlen(msg));
	sio_web_response_done(c);
}

/* Is real (a resolved path) inside the root? */
static bool
inside(const struct sio_files *f, const char *real)
{
	return strncmp(real, f->root, f->rootlen) == 0 &&
	    (real[f->rootlen] == '/' || real[f->rootlen] == '\0');
}

void
sio_files_serve(struct sio_files *f, struct sio_conn *c)
{
	struct sio_web_req *r = &c->req;
	char path[PATH_MAX], full[PATH_MAX * 2];
	bool head = r->method == HTTP_HEAD;

	if (r->method != HTTP_GET && !head) {
		answer(c, 405, "Method Not Allowed");
		return;
	}
	const char *raw = r->path ? r->path : "/";
	/* A NUL would cut the name the filesystem sees short of the one checked. */
	if (strstr(raw, "%00") || !sio_web_url_decode(raw, strlen(raw), false, path, sizeof path) ||
	    path[0] != '/') {
		answer(c, 404, "Not Found");
		return;
	}
	/* No ".." segment at all: refused before the filesystem is asked. */
	for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
		if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0')) {
			answer(c, 404, "Not Found");
			return;
		}
	}
	snprintf(full, sizeof full, "%s%s%s", f->root, path,
	    path[strlen(path) - 1] == '/' ? "index.html" : "");
	char *real = realpath(full, NULL);
	struct stat st;
	if (real && stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(full, sizeof full, "%s/index.html", real);
		free(real);
		real = realpath(full, NULL);
	}
	if (!real || !inside(f, real) || stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(real);
		answer(c, 404, "Not Found");
		return;
	}
	if ((size_t)st.st_size > MAX_FILE) {
		free(real);
		answer(c, 500, "File too large to serve");
		return;
	}
	int fd = open(real, O_RDONLY | O_CLOEXEC);
	struct sio_rc *body = sio_rc_new((size_t)st.st_size);
	size_t got = 0;
	while (fd >= 0 && got < (size_t)st.st_size) {
		ssize_t n = read(fd, body->data + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	if (got != (size_t)st.st_size) {
		sio_log_warn("%s: cannot read %s", c->peer, real);
		sio_rc_unref(body);
		free(real);
		answer(c, 404, "Not Found");
		return;
	}
	sio_web_respond_head(c, 200, content_type(real),
	    "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n", got);
	if (!head && got > 0)
		sio_outq_push(&c->out, body->data, got, SIO_REF_RC, body);
	else
		sio_rc_unref(body);
	free(real);
	sio_conn_want_flush(c);
	sio_web_response_done(c);
}
