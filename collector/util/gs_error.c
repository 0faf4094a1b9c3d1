#include "gs_error.h"

#include <string.h>

static const char *const names[] = {"ok",
#define N_(e, n, m) n,
                                    GS_ERRNO_MAP(N_)
#undef N_
};

static const char *const msgs[] = {"success",
#define M_(e, n, m) m,
                                   GS_ERRNO_MAP(M_)
#undef M_
};

const char *gs_strerror(int err) {
  if (err < 0 || err >= GS_ERR_MAX_) return "unknown error";
  return msgs[err];
}

const char *gs_errname(int err) {
  if (err < 0 || err >= GS_ERR_MAX_) return "unknown";
  return names[err];
}

int gs_err_from_name(const char *name) {
  if (!name) return 0;
  for (int i = 1; i < GS_ERR_MAX_; i++)
    if (strcmp(names[i], name) == 0) return i;
  return 0;
}

int gs_err_transient(int err) {
  return err == GS_EBUSY || err == GS_EFULL || err == GS_EIO || err == GS_ENOMEM || err == GS_ENET ||
         err == GS_ETIMEOUT;
}
