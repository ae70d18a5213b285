/* Configuration loading: defaults, then a JSON file, then flags.
 * See include/cfs/config.h for the contract. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/config.h"

static const struct cfs_config_key *find_key(const struct cfs_config_key *keys,
					     size_t nkeys, const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int set_value(const struct cfs_config_key *k, void *cfg,
		     const char *value, char *err, size_t errlen)
{
	char *field = (char *)cfg + k->offset;
	char *end;
	long long v;

	switch (k->type) {
	case CFS_CFG_STR:
		if (strlen(value) >= CFS_CONFIG_STR_MAX) {
			snprintf(err, errlen, "config key '%s': value too long",
				 k->name);
			return -EINVAL;
		}
		strcpy(field, value);
		return 0;
	case CFS_CFG_INT:
		errno = 0;
		v = strtoll(value, &end, 0);
		if (errno || end == value || *end) {
			snprintf(err, errlen,
				 "config key '%s': '%s' is not an integer",
				 k->name, value);
			return -EINVAL;
		}
		if (v < k->min || v > k->max) {
			snprintf(err, errlen,
				 "config key '%s': %lld is outside [%lld, %lld]",
				 k->name, v, k->min, k->max);
			return -EINVAL;
		}
		*(long long *)field = v;
		return 0;
	case CFS_CFG_BOOL:
		if (!strcmp(value, "true") || !strcmp(value, "1") ||
		    !strcmp(value, "yes")) {
			*(bool *)field = true;
		} else if (!strcmp(value, "false") || !strcmp(value, "0") ||
			   !strcmp(value, "no")) {
			*(bool *)field = false;
		} else {
			snprintf(err, errlen,
				 "config key '%s': '%s' is not a boolean",
				 k->name, value);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

int cfs_config_set(const struct cfs_config_key *keys, size_t nkeys,
		   void *cfg, const char *name, const char *value, char *err,
		   size_t errlen)
{
	const struct cfs_config_key *k = find_key(keys, nkeys, name);

	if (!k) {
		snprintf(err, errlen, "unknown config key '%s'", name);
		return -ENOENT;
	}
	return set_value(k, cfg, value, err, errlen);
}

/* Apply one JSON value to key k, converting it to the text form. */
static int set_json(const struct cfs_config_key *k, void *cfg, json_t *v,
		    char *err, size_t errlen)
{
	char text[64];

	switch (k->type) {
	case CFS_CFG_STR:
		if (!json_is_string(v))
			break;
		return set_value(k, cfg, json_string_value(v), err, errlen);
	case CFS_CFG_INT:
		if (!json_is_integer(v))
			break;
		snprintf(text, sizeof(text), "%lld",
			 (long long)json_integer_value(v));
		return set_value(k, cfg, text, err, errlen);
	case CFS_CFG_BOOL:
		if (!json_is_boolean(v))
			break;
		return set_value(k, cfg, json_is_true(v) ? "true" : "false",
				 err, errlen);
	}
	snprintf(err, errlen, "config key '%s': wrong type (want %s)", k->name,
		 k->type == CFS_CFG_STR ? "string" :
		 k->type == CFS_CFG_INT ? "integer" : "boolean");
	return -EINVAL;
}

/* The keys of a parsed JSON object; what names where it came from. */
static int apply_json(const struct cfs_config_key *keys, size_t nkeys,
		      void *cfg, json_t *root, const char *what, char *err,
		      size_t errlen)
{
	json_t *v;
	const char *name;
	int rc;

	if (!json_is_object(root)) {
		snprintf(err, errlen, "config %s: not a JSON object", what);
		return -EINVAL;
	}
	json_object_foreach(root, name, v) {
		const struct cfs_config_key *k = find_key(keys, nkeys, name);

		if (!k) {
			snprintf(err, errlen, "config %s: unknown key '%s'",
				 what, name);
			return -EINVAL;
		}
		rc = set_json(k, cfg, v, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int cfs_config_parse(const struct cfs_config_key *keys, size_t nkeys,
		     void *cfg, const char *text, size_t len, char *err,
		     size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	int rc;

	if (!root) {
		snprintf(err, errlen, "config text: line %d: %s", jerr.line,
			 jerr.text);
		return -EINVAL;
	}
	rc = apply_json(keys, nkeys, cfg, root, "text", err, errlen);
	json_decref(root);
	return rc;
}

static int load_file(const struct cfs_config_key *keys, size_t nkeys,
		     void *cfg, const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	char what[4200];
	int rc;

	if (!root) {
		snprintf(err, errlen, "config file %s: line %d: %s", path,
			 jerr.line, jerr.text);
		return -EINVAL;
	}
	snprintf(what, sizeof(what), "file %s", path);
	rc = apply_json(keys, nkeys, cfg, root, what, err, errlen);
	json_decref(root);
	return rc;
}

static void print_help(const struct cfs_config_key *keys, size_t nkeys)
{
	printf("options (also accepted as keys of the --config JSON file):\n");
	printf("  --config FILE\n");
	for (size_t i = 0; i < nkeys; i++)
		printf("  --%-20s %s (default: %s)\n", keys[i].name,
		       keys[i].help, keys[i].def);
}

int cfs_config_load(const struct cfs_config_key *keys, size_t nkeys,
		    void *cfg, int argc, char **argv, char **rest,
		    int max_rest, int *nrest, char *err, size_t errlen)
{
	const char *config_file = NULL;
	int rc;

	*nrest = 0;
	for (size_t i = 0; i < nkeys; i++) {
		rc = set_value(&keys[i], cfg, keys[i].def, err, errlen);
		if (rc)
			return rc;
	}
	/* the file first, so that flags win whatever their order */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			print_help(keys, nkeys);
			return 1;
		}
		if (!strncmp(argv[i], "--config=", 9))
			config_file = argv[i] + 9;
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config_file = argv[++i];
	}
	if (config_file) {
		rc = load_file(keys, nkeys, cfg, config_file, err, errlen);
		if (rc)
			return rc;
	}
	for (int i = 1; i < argc; i++) {
		char name[128];
		const char *arg = argv[i], *value, *eq;

		if (strncmp(arg, "--", 2) != 0) {
			if (*nrest >= max_rest) {
				snprintf(err, errlen, "unexpected argument '%s'",
					 arg);
				return -EINVAL;
			}
			rest[(*nrest)++] = argv[i];
			continue;
		}
		arg += 2;
		eq = strchr(arg, '=');
		if (eq) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - arg),
				 arg);
			value = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", arg);
			const struct cfs_config_key *k =
				find_key(keys, nkeys, name);
			if (k && k->type == CFS_CFG_BOOL &&
			    (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))) {
				value = "true";
			} else if (i + 1 < argc) {
				value = argv[++i];
			} else {
				snprintf(err, errlen, "option '--%s' needs a value",
					 name);
				return -EINVAL;
			}
		}
		if (!strcmp(name, "config"))
			continue;
		rc = cfs_config_set(keys, nkeys, cfg, name, value, err, errlen);
		if (rc)
			return -EINVAL;
	}
	return 0;
}
