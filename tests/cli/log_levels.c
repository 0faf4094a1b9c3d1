/* log_levels - logs one line at each level through gs_log, for
 * test_log_journal.sh: "log_levels [PROG]" writes debug, info, warn and
 * error lines (level debug) to stderr and exits 0. */
#include "gs_log.h"

int main(int argc, char **argv) {
  gs_log_init(argc > 1 ? argv[1] : "log_levels", GS_LOG_DEBUG);
  gs_debug("a debug line");
  gs_info("an info line");
  gs_warn("a warning line");
  gs_error("an error line\nwith a second line");
  return 0;
}
