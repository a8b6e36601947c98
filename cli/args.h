/* Parsing of command-line values shared by the subcommands, in the
 * conventions of the reference tools (--seeds 0-9, --trunc 0.7). */
#ifndef DNE_CLI_ARGS_H
#define DNE_CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "gan/error.h"

/* Exit statuses: 2 for bad input (arguments, files), 1 for failures while working. */
#define DNE_EXIT_USAGE 2
#define DNE_EXIT_FAILURE 1

/* "0-9", "0,5,7", "0,2-4": inclusive ranges and single seeds, each in
 * [0, 2^32 - 1] (NumPy's RandomState seeds), at most max_count in all. */
int dne_parse_seeds(const char *text, uint32_t **seeds, int *count, int max_count, gan_error *err);
/* The same syntax for any flag (--rows, --cols, --styles); errors name `flag`. */
int dne_parse_list(const char *text, const char *flag, uint32_t **values, int *count, int max_count, gan_error *err);
int dne_parse_long(const char *text, const char *flag, long min, long max, long *out, gan_error *err);
int dne_parse_float(const char *text, const char *flag, double min, double max, float *out, gan_error *err);

/* The model used when --network is not given: $DNE_MODEL, else the bundled
 * models/default.safetensors (beside build/dne in a source tree, or
 * <prefix>/share/dne/ when installed). */
int dne_default_network(char *path, size_t size, gan_error *err);

/* The flags of the file-to-file commands (import, export): one input file
 * (argv[optind] afterwards), --out FILE (required), --which W (left as given
 * when absent), --help (prints usage, returns 1). */
int dne_parse_file_command(int argc, char **argv, const char *command, void (*usage)(FILE *), const char **out,
                           const char **which, gan_error *err);

/* Prints "dne <command>: error: <message>" on one line of stderr and returns status. */
int dne_error(const char *command, int status, const gan_error *err);

#endif
