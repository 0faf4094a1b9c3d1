#include "gs_statuspub.h"

#include <stdio.h>
#include <string.h>

#include "gs_buf.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_status.h"
#include "gs_util.h"

#define MAX_OUTPUTS 8

struct gs_statuspub {
  gs_status *status;
  const gs_transport *out[MAX_OUTPUTS]; /* the status outputs */
  size_t nout;
  gs_config cfg;
  int64_t next_refresh;   /* monotonic */
  int64_t next_heartbeat; /* monotonic, 0 = off */
  char day[11];
  unsigned long published;
};

static void publish_dirty(gs_statuspub *p) {
  int64_t now = gs_now_ms();
  char day[11];
  gs_status_day(now, day);
  if (strcmp(day, p->day) != 0) {
    /* "today" and maybe "this period" changed for everyone */
    snprintf(p->day, sizeof p->day, "%s", day);
    if (gs_status_refresh(p->status, now) != GS_OK) p->next_refresh = 0; /* retry on the next tick */
    gs_status_mark_all(p->status);
  }
  gs_status_refresh_devices(p->status, now);
  /* An output that is not connected misses these documents: it asks for
   * every document again when it is back (gs_statuspub_resync). Only when
   * no output is connected do the dirty flags wait. */
  int ready[MAX_OUTPUTS], any = 0;
  for (size_t k = 0; k < p->nout; k++) any |= ready[k] = p->out[k]->ops->connected(p->out[k]->self);
  if (!any) return;
  const char *const *ids;
  size_t n = gs_status_take_dirty(p->status, &ids);
  gs_buf doc = GS_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    gs_buf_reset(&doc);
    if (gs_status_doc(p->status, ids[i], now, &doc) != GS_OK) continue;
    for (size_t k = 0; k < p->nout; k++) {
      const gs_transport *t = p->out[k];
      if (ready[k] && t->ops->publish_status(t->self, ids[i], doc.data, doc.len) == GS_OK) p->published++;
    }
  }
  gs_buf_free(&doc);
}

static void on_tick(void *ctx) {
  gs_statuspub *p = ctx;
  int64_t mono = gs_mono_ms();
  if (mono >= p->next_refresh) {
    int rc = gs_status_refresh(p->status, gs_now_ms());
    if (rc) gs_warn("status: refresh of time-driven numbers failed: %s; retrying next period", gs_strerror(rc));
    p->next_refresh = mono + (int64_t)p->cfg.refresh_s * 1000;
  }
  if (p->next_heartbeat && mono >= p->next_heartbeat) {
    /* idle units too: their as_of tells a city rollup the district is alive */
    gs_status_mark_all(p->status);
    p->next_heartbeat = mono + (int64_t)p->cfg.heartbeat_s * 1000;
  }
  publish_dirty(p);
}

void gs_statuspub_resync(void *ctx) {
  gs_statuspub *p = ctx;
  if (p) gs_status_mark_all(p->status);
}

int gs_statuspub_new(gs_statuspub **out, gs_loop *loop, gs_engine *e, const gs_config *cfg, char *err, size_t errlen) {
  gs_statuspub *p = gs_calloc(1, sizeof *p);
  if (!p) return GS_ENOMEM;
  p->cfg = *cfg;
  gs_status_config sc = {cfg->timezone, cfg->care_days};
  int rc = gs_status_open(&p->status, e, &sc, err, errlen);
  if (rc) {
    gs_free(p);
    return rc;
  }
  rc = gs_status_refresh(p->status, gs_now_ms());
  if (rc) gs_warn("status: first refresh failed: %s", gs_strerror(rc));
  gs_status_day(gs_now_ms(), p->day);
  p->next_refresh = gs_mono_ms() + (int64_t)cfg->refresh_s * 1000;
  p->next_heartbeat = cfg->heartbeat_s ? gs_mono_ms() + (int64_t)cfg->heartbeat_s * 1000 : 0;
  gs_status_mark_all(p->status);
  rc = gs_loop_timer(loop, cfg->publish_interval_ms, on_tick, p);
  if (rc) {
    snprintf(err, errlen, "status: cannot add a timer");
    gs_statuspub_free(p);
    return rc;
  }
  gs_info("status: publishing on gs/v1/status/# (time zone %s, care window %d days)", cfg->timezone, cfg->care_days);
  *out = p;
  return GS_OK;
}

int gs_statuspub_add_output(gs_statuspub *p, const gs_transport *t) {
  if (!t->ops->publish_status) return GS_OK;
  if (p->nout == MAX_OUTPUTS) return GS_ENOMEM;
  p->out[p->nout++] = t;
  gs_info("status: output %s", t->ops->name);
  return GS_OK;
}

void gs_statuspub_publish_now(gs_statuspub *p) { publish_dirty(p); }

void gs_statuspub_reconfigure(gs_statuspub *p, const gs_config *cfg) {
  if (strcmp(cfg->timezone, p->cfg.timezone) || cfg->publish_interval_ms != p->cfg.publish_interval_ms)
    gs_warn("config: [status] timezone and publish_interval_ms take effect after a restart");
  gs_status_set_care_days(p->status, cfg->care_days);
  int refresh = cfg->care_days != p->cfg.care_days;
  p->cfg.care_days = cfg->care_days;
  p->cfg.refresh_s = cfg->refresh_s;
  p->cfg.heartbeat_s = cfg->heartbeat_s;
  p->next_heartbeat = cfg->heartbeat_s ? gs_mono_ms() + (int64_t)cfg->heartbeat_s * 1000 : 0;
  if (refresh) p->next_refresh = 0;
}

void gs_statuspub_free(gs_statuspub *p) {
  if (!p) return;
  gs_status_close(p->status);
  gs_free(p);
}
