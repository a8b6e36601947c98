#include "config.h"

#include <math.h>
#include <string.h>

cJSON *gan_json_parse_object(const char *text, const char *what, gan_error *err) {
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        gan_fail(err, "%s: invalid JSON near '%.20s'", what, at ? at : "");
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        gan_fail(err, "%s: expected a JSON object", what);
        return NULL;
    }
    return root;
}

int gan_json_int(const cJSON *obj, const char *key, int min, int max, int has_default, int default_value, int *out,
                 gan_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item) {
        if (!has_default) return gan_fail(err, "config: missing key \"%s\"", key);
        *out = default_value;
        return 0;
    }
    double v = item->valuedouble;
    if (!cJSON_IsNumber(item) || v != floor(v))
        return gan_fail(err, "config: \"%s\" must be an integer", key);
    if (v < min || v > max) return gan_fail(err, "config: \"%s\" is %g, expected %d to %d", key, v, min, max);
    *out = (int)v;
    return 0;
}

int gan_json_number_or_null(const cJSON *obj, const char *key, double *out, int *is_null, gan_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item) return gan_fail(err, "config: missing key \"%s\"", key);
    *is_null = cJSON_IsNull(item);
    if (*is_null) return 0;
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return gan_fail(err, "config: \"%s\" must be a number or null", key);
    *out = item->valuedouble;
    return 0;
}

int gan_json_string(const cJSON *obj, const char *key, const char **out, gan_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!item) return 0;
    if (!cJSON_IsString(item)) return gan_fail(err, "config: \"%s\" must be a string", key);
    *out = item->valuestring;
    return 0;
}

int gan_json_bool(const cJSON *obj, const char *key, int default_value, int *out, gan_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item) {
        *out = default_value;
        return 0;
    }
    if (!cJSON_IsBool(item)) return gan_fail(err, "config: \"%s\" must be true or false", key);
    *out = cJSON_IsTrue(item);
    return 0;
}

int gan_json_number(const cJSON *obj, const char *key, double min, double max, double default_value, double *out,
                    gan_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item) {
        *out = default_value;
        return 0;
    }
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return gan_fail(err, "config: \"%s\" must be a number", key);
    if (item->valuedouble < min || item->valuedouble > max)
        return gan_fail(err, "config: \"%s\" is %g, expected %g to %g", key, item->valuedouble, min, max);
    *out = item->valuedouble;
    return 0;
}
