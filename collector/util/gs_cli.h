/* gs_cli.h - what every gridsync command line shares: getopt_long with
 * messages that name the bad argument, long options spelled out in full,
 * --version, the exit statuses.
 *
 * A program parses with gs_cli_getopt() in a loop (as with getopt_long) and
 * returns GS_CLI_EXIT_USAGE when it gets '?': the message is already
 * printed and nothing has been done. "--opt value" and "--opt=value" both
 * work (getopt_long). Not thread-safe (getopt's globals): call from main's
 * thread only, before starting others.
 */
#ifndef GS_CLI_H
#define GS_CLI_H

#include <getopt.h>

/* Exit statuses of every program: 0 done, 1 failed (a message on stderr),
 * 2 bad command line (nothing done; the message says what to do). */
#define GS_CLI_EXIT_OK    0
#define GS_CLI_EXIT_FAIL  1
#define GS_CLI_EXIT_USAGE 2

/* Prints "<prog> <version>\n" on stdout; version is the project(VERSION) of
 * the top CMakeLists.txt. */
void gs_cli_version(const char *prog);

/* Prints "<prog>: <message>; see <prog> --help" on stderr. Returns
 * GS_CLI_EXIT_USAGE so that main can `return gs_cli_usage_error(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int gs_cli_usage_error(const char *prog, const char *fmt, ...);

/* getopt_long(argc, argv, optstring, longopts) with opterr off and these
 * differences: a long option must be spelled out (no abbreviations: a typo
 * must not select another option), and on any error (unknown option, a
 * missing value, a value given to an option that takes none) the message
 * names the argument (gs_cli_usage_error) and '?' is returned. Returns the
 * option's val, or -1 after the last option (optind then indexes the first
 * operand; operands are permuted to the end unless optstring starts with
 * '+'). To parse another argument vector, set optind = 0 first. */
int gs_cli_getopt(const char *prog, int argc, char *argv[], const char *optstring, const struct option *longopts);

/* Parses the value s of option opt as an integer in [min, max] into *out.
 * Returns 0, or GS_CLI_EXIT_USAGE after printing which option wants what. */
int gs_cli_int(const char *prog, const char *opt, const char *s, int min, int max, int *out);

#endif
