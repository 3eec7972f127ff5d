/*
 * conf: sio-hub's settings by name, from the command line or a config
 * file. One setter serves both, so a file takes exactly the long option
 * names (without "--") and the same values, and flags given after it win.
 *
 * File format: one setting a line, "name value" or "name = value";
 * blank lines and lines starting with '#' are ignored; repeatable
 * settings (nsp, cors) may appear on several lines; a setting without a
 * value (any-nsp, relay, verbose) stands alone.
 *
 * Ownership: strings set are copied into the config, which owns them
 * until sio_hub_config_free().
 */
#ifndef SIO_CONF_H
#define SIO_CONF_H

#include "hub.h"

/*
 * Applies one setting. value is NULL for a flag without argument.
 * Returns SIO_OK, or SIO_EINVAL with a message in err.
 */
int sio_conf_set(struct sio_hub_config *cfg, const char *name, const char *value, char *err);
/*
 * Reads a config file. A missing file is SIO_ENOTFOUND (the caller
 * decides whether that matters); a bad line is SIO_EINVAL with
 * "FILE:LINE: ..." in err.
 */
int sio_conf_load(struct sio_hub_config *cfg, const char *path, char *err);

/*
 * Checks settings that only make sense together (a TLS certificate
 * needs its key). SIO_OK, or SIO_EINVAL with a message in err.
 */
int sio_conf_check(const struct sio_hub_config *cfg, char *err);

#endif
