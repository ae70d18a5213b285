/* Daemon configuration: one JSON object per daemon, every key with a
 * default, command-line flags overriding the file.
 *
 * A daemon describes its keys in a table of struct cfs_config_key that
 * points into its own config struct; cfs_config_load() fills the struct
 * from the defaults, then the file named by --config, then --key=value or
 * --key value flags. An unknown key, a value of the wrong type or out of
 * range is an error that names the key. */
#ifndef CFS_CONFIG_H
#define CFS_CONFIG_H

#include <stddef.h>

#define CFS_CONFIG_STR_MAX 256

enum cfs_config_type {
	CFS_CFG_STR,	/* char[CFS_CONFIG_STR_MAX] */
	CFS_CFG_INT,	/* long long, within [min, max] */
	CFS_CFG_BOOL,	/* bool */
};

struct cfs_config_key {
	const char *name;
	enum cfs_config_type type;
	const char *def;	/* default, as it would be written on the command line */
	size_t offset;		/* offsetof() the field in the config struct */
	long long min, max;	/* CFS_CFG_INT only */
	const char *help;
};

/* Fill cfg. Positional arguments (not starting with "--") are stored in
 * rest[] (up to max_rest; more is an error) and counted in *nrest.
 * Returns 0, 1 when --help was printed, or -EINVAL with a message naming
 * the offending key in err. */
int cfs_config_load(const struct cfs_config_key *keys, size_t nkeys,
		    void *cfg, int argc, char **argv, char **rest,
		    int max_rest, int *nrest, char *err, size_t errlen);

/* Set one key from text, as a flag would. -EINVAL/-ENOENT with err set. */
int cfs_config_set(const struct cfs_config_key *keys, size_t nkeys,
		   void *cfg, const char *name, const char *value, char *err,
		   size_t errlen);

/* Set the keys of a JSON object in text (what a --config file holds):
 * 0, or -EINVAL with err set. */
int cfs_config_parse(const struct cfs_config_key *keys, size_t nkeys,
		     void *cfg, const char *text, size_t len, char *err,
		     size_t errlen);

#endif
