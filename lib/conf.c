#include "conf.h"
#include "log.h"
#include "packet.h"
#include "redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
own(struct sio_hub_config *cfg, const char *s)
{
	cfg->owned = sio_xrealloc(cfg->owned, (cfg->nowned + 1) * sizeof *cfg->owned);
	return cfg->owned[cfg->nowned++] = sio_xstrdup(s);
}

static void
append(struct sio_hub_config *cfg, const char ***v, size_t *n, const char *s)
{
	*v = sio_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = own(cfg, s);
}

static int
bad(char *err, const char *name, const char *value, const char *why)
{
	snprintf(err, SIO_ERRLEN, "%s: '%s' %s", name, value ? value : "", why);
	return SIO_EINVAL;
}

static int
number(const char *name, const char *value, long min, long max, long *out, char *err)
{
	if (!sio_parse_long(value, min, max, out)) {
		snprintf(err, SIO_ERRLEN, "%s: '%s' is not a number from %ld to %ld",
		    name, value ? value : "", min, max);
		return SIO_EINVAL;
	}
	return SIO_OK;
}

static int
transports(struct sio_hub_config *cfg, const char *value, char *err)
{
	char *copy = sio_xstrdup(value), *save = NULL;
	bool polling = false, websocket = false;
	int rc = SIO_OK;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "polling") == 0)
			polling = true;
		else if (strcmp(t, "websocket") == 0)
			websocket = true;
		else
			rc = bad(err, "transports", t, "is not a transport (polling, websocket)");
	}
	free(copy);
	if (rc == SIO_OK && !polling && !websocket)
		rc = bad(err, "transports", value, "names no transport");
	if (rc == SIO_OK) {
		cfg->polling = polling;
		cfg->websocket = websocket;
	}
	return rc;
}

/* Settings whose value is a number of milliseconds or bytes. */
static const struct {
	const char *name;
	long min, max;
	size_t off;
	bool is_size;
} numbers[] = {
	{ "port", 0, 65535, offsetof(struct sio_hub_config, port), false },
	{ "max-fragments", 1, 1000000, offsetof(struct sio_hub_config, max_fragments), false },
	{ "ping-interval", 1, 3600000, offsetof(struct sio_hub_config, ping_interval), false },
	{ "ping-timeout", 1, 3600000, offsetof(struct sio_hub_config, ping_timeout), false },
	{ "connect-timeout", 1, 3600000, offsetof(struct sio_hub_config, connect_timeout), false },
	{ "upgrade-timeout", 1, 3600000, offsetof(struct sio_hub_config, upgrade_timeout), false },
	{ "shutdown-timeout", 0, 3600000, offsetof(struct sio_hub_config, shutdown_timeout), false },
	{ "http-timeout", 1, 3600000, offsetof(struct sio_hub_config, http_timeout), false },
	{ "tls-handshake-timeout", 1, 3600000, offsetof(struct sio_hub_config, tls_handshake_timeout), false },
	{ "max-payload", 16, 1L << 30, offsetof(struct sio_hub_config, max_payload), true },
	{ "max-headers", 1, 100000, offsetof(struct sio_hub_config, max_headers), false },
	{ "max-header-bytes", 256, 1L << 24, offsetof(struct sio_hub_config, max_header_bytes), true },
	{ "max-output", 1024, 1L << 34, offsetof(struct sio_hub_config, max_output), true },
	{ "max-output-soft", 0, 1L << 34, offsetof(struct sio_hub_config, max_output_soft), true },
	{ "max-output-soft-time", 1, 3600000, offsetof(struct sio_hub_config, max_output_soft_time), false },
	{ "max-connections", 0, 10000000, offsetof(struct sio_hub_config, max_connections), false },
	{ "max-connections-per-ip", 0, 10000000, offsetof(struct sio_hub_config, max_connections_per_ip), false },
	{ "max-packets", 1, 10000000, offsetof(struct sio_hub_config, max_packets), false },
	{ "max-attachments", 0, SIO_MAX_ATTACHMENTS, offsetof(struct sio_hub_config, max_attachments), false },
	{ "jwt-leeway", 0, 86400, offsetof(struct sio_hub_config, jwt_leeway), false },
	{ "max-control-line", 0, 1L << 32, offsetof(struct sio_hub_config, max_control_line), true },
	{ "max-listener-output", 65536, 1L << 34, offsetof(struct sio_hub_config, max_listener_output), true },
	{ "redis-max-pending", 65536, 1L << 34, offsetof(struct sio_hub_config, redis_max_pending), true },
	{ "max-depth", 1, 100000, offsetof(struct sio_hub_config, max_depth), false },
};

int
sio_conf_set(struct sio_hub_config *cfg, const char *name, const char *value, char *err)
{
	long v;

	for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
		if (strcmp(name, numbers[i].name) != 0)
			continue;
		if (number(name, value, numbers[i].min, numbers[i].max, &v, err) != SIO_OK)
			return SIO_EINVAL;
		char *field = (char *)cfg + numbers[i].off;
		if (numbers[i].is_size)
			*(size_t *)(void *)field = (size_t)v;
		else
			*(int *)(void *)field = (int)v;
		return SIO_OK;
	}
	bool needs_value = strcmp(name, "any-nsp") && strcmp(name, "relay") &&
	    strcmp(name, "no-control") && strcmp(name, "verbose") && strcmp(name, "quiet");
	if (needs_value && (!value || !*value))
		return bad(err, name, value, "needs a value");
	if (!strcmp(name, "bind")) {
		cfg->bind = own(cfg, value);
	} else if (!strcmp(name, "path") || !strcmp(name, "engine-echo")) {
		if (value[0] != '/')
			return bad(err, name, value, "must start with '/'");
		*(!strcmp(name, "path") ? &cfg->path : &cfg->engine_echo) = own(cfg, value);
	} else if (!strcmp(name, "nsp")) {
		if (value[0] != '/' || strpbrk(value, ",?"))
			return bad(err, name, value, "must start with '/' and hold no ',' or '?'");
		append(cfg, &cfg->nsps, &cfg->nnsps, value);
	} else if (!strcmp(name, "any-nsp")) {
		cfg->any_nsp = true;
	} else if (!strcmp(name, "relay")) {
		if (!value || !strcmp(value, "all"))
			cfg->relay = SIO_RELAY_ALL;
		else if (!strcmp(value, "rooms"))
			cfg->relay = SIO_RELAY_ROOMS;
		else if (!strcmp(value, "off"))
			cfg->relay = SIO_RELAY_OFF;
		else
			return bad(err, name, value, "is not a relay mode (all, rooms, off)");
	} else if (!strcmp(name, "transports")) {
		return transports(cfg, value, err);
	} else if (!strcmp(name, "cors")) {
		append(cfg, &cfg->cors, &cfg->ncors, value);
	} else if (!strcmp(name, "allow-origin")) {
		if (!strcmp(value, "*") || strpbrk(value, " \t\r\n,"))
			return bad(err, name, value, "must be one origin such as https://example.com");
		append(cfg, &cfg->allow_origins, &cfg->nallow_origins, value);
	} else if (!strcmp(name, "jwt-alg")) {
		if (strcmp(value, "HS256") && strcmp(value, "RS256") && strcmp(value, "ES256"))
			return bad(err, name, value, "is not HS256, RS256 or ES256");
		cfg->jwt_alg = own(cfg, value);
	} else if (!strcmp(name, "jwt-key")) {
		cfg->jwt_key = own(cfg, value);
	} else if (!strcmp(name, "control-group")) {
		cfg->control_group = own(cfg, value);
	} else if (!strcmp(name, "tls-cert")) {
		cfg->tls_cert = own(cfg, value);
	} else if (!strcmp(name, "tls-key")) {
		cfg->tls_key = own(cfg, value);
	} else if (!strcmp(name, "static")) {
		cfg->static_dir = own(cfg, value);
	} else if (!strcmp(name, "socket")) {
		cfg->ctl_path = own(cfg, value);
	} else if (!strcmp(name, "redis")) {
		struct sio_redis_addr a;
		if (sio_redis_addr_parse(value, &a, err) != SIO_OK)
			return SIO_EINVAL;
		cfg->redis_url = own(cfg, value);
	} else if (!strcmp(name, "redis-key")) {
		cfg->redis_key = own(cfg, value);
	} else if (!strcmp(name, "no-control")) {
		cfg->no_ctl = true;
	} else if (!strcmp(name, "verbose")) {
		if (cfg->log_level < SIO_LOG_DEBUG)
			cfg->log_level++;
	} else if (!strcmp(name, "quiet")) {
		cfg->log_level = SIO_LOG_ERROR;
	} else if (!strcmp(name, "metrics")) {
		if (!strcmp(value, "auto"))
			cfg->metrics = SIO_METRICS_AUTO;
		else if (!strcmp(value, "on"))
			cfg->metrics = SIO_METRICS_ON;
		else if (!strcmp(value, "off"))
			cfg->metrics = SIO_METRICS_OFF;
		else
			return bad(err, name, value, "is not auto, on or off");
	} else {
		snprintf(err, SIO_ERRLEN, "unknown setting '%s'", name);
		return SIO_EINVAL;
	}
	return SIO_OK;
}

int
sio_conf_load(struct sio_hub_config *cfg, const char *path, char *err)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, msg[SIO_ERRLEN];
	size_t cap = 0;
	unsigned long n = 0;
	int rc = SIO_OK;

	if (!f) {
		snprintf(err, SIO_ERRLEN, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? SIO_ENOTFOUND : SIO_ESYS;
	}
	while (rc == SIO_OK && getline(&line, &cap, f) >= 0) {
		n++;
		char *s = line + strspn(line, " \t");
		s[strcspn(s, "\r\n")] = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		char *name = s;
		char *end = name + strcspn(name, " \t=");
		char *value = end + strspn(end, " \t");
		if (*value == '=')
			value += 1 + strspn(value + 1, " \t");
		*end = '\0';
		size_t vl = strlen(value);
		while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
			value[--vl] = '\0';
		if (!strcmp(name, "config")) {
			snprintf(msg, sizeof msg, "a config file cannot name another");
			rc = SIO_EINVAL;
		} else {
			rc = sio_conf_set(cfg, name, *value ? value : NULL, msg);
		}
		if (rc != SIO_OK)
			snprintf(err, SIO_ERRLEN, "%.100s:%lu: %.140s", path, n, msg);
	}
	free(line);
	fclose(f);
	return rc;
}

int
sio_conf_check(const struct sio_hub_config *cfg, char *err)
{
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		snprintf(err, SIO_ERRLEN, "tls-cert and tls-key go together: %s is missing",
		    cfg->tls_cert ? "tls-key" : "tls-cert");
		return SIO_EINVAL;
	}
	if ((cfg->jwt_alg == NULL) != (cfg->jwt_key == NULL)) {
		snprintf(err, SIO_ERRLEN, "jwt-alg and jwt-key go together: %s is missing",
		    cfg->jwt_alg ? "jwt-key" : "jwt-alg");
		return SIO_EINVAL;
	}
	return SIO_OK;
}
