/* Reading network configs: small, checked accessors over cJSON so that a bad
 * config gives an error naming the key and what was wrong with it. */
#ifndef GAN_IO_CONFIG_H
#define GAN_IO_CONFIG_H

#include <cjson/cJSON.h>

#include "../error.h"

/* Parses a JSON object; `what` names the text in messages ("config"). */
cJSON *gan_json_parse_object(const char *text, const char *what, gan_error *err);

/* An integer value in [min, max]; a missing key is an error unless a default
 * is given through has_default. */
int gan_json_int(const cJSON *obj, const char *key, int min, int max, int has_default, int default_value, int *out,
                 gan_error *err);
/* A number, or null (reported through *is_null). */
int gan_json_number_or_null(const cJSON *obj, const char *key, double *out, int *is_null, gan_error *err);
/* A string value, or NULL when the key is absent; an error if present but not a string. */
int gan_json_string(const cJSON *obj, const char *key, const char **out, gan_error *err);
/* true or false; default_value when the key is absent. */
int gan_json_bool(const cJSON *obj, const char *key, int default_value, int *out, gan_error *err);
/* A finite number in [min, max]; default_value when the key is absent. */
int gan_json_number(const cJSON *obj, const char *key, double min, double max, double default_value, double *out,
                    gan_error *err);

#endif
