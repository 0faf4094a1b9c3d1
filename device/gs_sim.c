/* gs_sim.c - gs-sim, a fleet of simulated grid workers on the device library.
 *
 *   gs-sim --workdir DIR --devices FILE --rounds R [--edits-per-round N]
 *          [--seed S] [--jobs J] [--timeout SECS] [--progress]
 *
 * FILE lines: device_id,home_or_bundle_dir,grid1[;grid2]   (# comments)
 * A directory holding device.db is used as the device home; otherwise it is a
 * bundle (device.conf, ca.crt, device.crt, device.key) and the home becomes
 * DIR/<device_id>, initialised from it once.
 *
 * Each round every worker (one forked process, one MQTT client) syncs to pull
 * its grids, then works offline: visits to random households of its grids,
 * sometimes a report, sometimes a household update; then syncs again. At most
 * J workers run at once and each is killed after --timeout seconds.
 * Exit status: 0 when every worker synced every round, 1 otherwise, 2 usage
 * (nothing done). Options take "--opt VALUE" or "--opt=VALUE".
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gs_cli.h"
#include "gs_device.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

#define MAX_GRIDS 8

typedef struct worker {
  char id[65];
  char home[4096];
  char grids[MAX_GRIDS][65];
  int ngrids;
} worker;

typedef struct result {
  long long changes, acked, rejected, conflicts, pulled;
  int ok;
  char msg[256];
} result;

typedef struct sim {
  const char *workdir, *devices;
  int rounds, edits, jobs, timeout_s, progress;
  uint64_t seed;
  worker *w;
  int nw;
} sim;

/* xorshift64*: reproducible per (seed, round, worker). */
static uint64_t rnd_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 2685821657736338717ULL;
}
static int rnd(uint64_t *s, int n) { return (int)(rnd_next(s) % (uint64_t)n); }

static const char *const summaries[] = {"入户走访，老人身体状况良好",       "了解家庭近况，无特殊需求",
                                        "独居老人，已提醒注意用电安全",     "复查上次反映的问题，已解决",
                                        "宣传反诈知识，发放资料",           "孩子上学情况正常，家长配合",
                                        "询问医保缴费情况，已告知办理流程", "租户信息已核对更新"};
static const char *const kinds[] = {"routine", "routine", "routine", "follow_up", "care"};
static const char *const categories[] = {"dispute", "safety_hazard", "environment", "facility", "livelihood"};
static const char *const urgencies[] = {"low", "normal", "normal", "high", "critical"};
static const char *const titles[] = {"楼道堆放杂物",   "邻里噪音纠纷", "路灯损坏",        "垃圾清运不及时",
                                     "电动车楼内充电", "下水道堵塞",   "困难家庭申请救助"};
static const char *const descs[] = {"居民反映问题已持续一周，请尽快处理。", "现场查看属实，已拍照留存。",
                                    "需要物业和社区共同协调解决。"};
static const char *const tags[] = {"elderly_alone", "disabled", "left_behind_child", "low_income", "rental"};
static const char *const notes[] = {"家中有慢性病患者，需定期关注", "已更新联系电话", "子女在外地工作", "近期有装修"};

#define PICK(s, a) (a)[rnd((s), (int)(sizeof(a) / sizeof((a)[0])))]

static const char prog[] = "gs-sim";

static void usage(FILE *f) {
  fprintf(f, "usage: gs-sim --workdir DIR --devices FILE --rounds R [--edits-per-round N]"
             " [--seed S] [--jobs J] [--timeout SECS] [--progress]\n"
             "       gs-sim --help | --version\n"
             "Options take \"--opt VALUE\" or \"--opt=VALUE\".\n");
}

/* Parses the value of opt as an integer in [min, max]; 0 or a usage error. */
static int int_opt(const char *opt, const char *val, int64_t min, int64_t max, int64_t *out) {
  if (gs_parse_i64(val, min, max, out) == GS_OK) return 0;
  return gs_cli_usage_error(prog, "%s needs a number between %lld and %lld, got '%s'", opt, (long long)min,
                            (long long)max, val);
}

static int load_devices(sim *s) {
  FILE *f = fopen(s->devices, "r");
  char line[8192];
  int lineno = 0, cap = 0;
  if (!f) {
    fprintf(stderr, "gs-sim: cannot open devices file %s: %s\n", s->devices, strerror(errno));
    return 1;
  }
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0] || line[0] == '#') continue;
    char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    if (!c2) {
      fprintf(stderr, "gs-sim: %s:%d: expected device_id,dir,grid1[;grid2]\n", s->devices, lineno);
      fclose(f);
      return 1;
    }
    *c1 = *c2 = 0;
    if (s->nw == cap) {
      cap = cap ? cap * 2 : 64;
      worker *nw = gs_realloc(s->w, (size_t)cap * sizeof(*nw));
      if (!nw) {
        fclose(f);
        return 1;
      }
      s->w = nw;
    }
    worker *w = &s->w[s->nw];
    memset(w, 0, sizeof(*w));
    if (!gs_valid_device_id(line)) {
      fprintf(stderr, "gs-sim: %s:%d: bad device id '%s'\n", s->devices, lineno, line);
      fclose(f);
      return 1;
    }
    for (int k = 0; k < s->nw; k++)
      if (!strcmp(s->w[k].id, line)) {
        /* two workers with one client id would keep kicking each other off */
        fprintf(stderr, "gs-sim: %s:%d: device %s listed twice\n", s->devices, lineno, line);
        fclose(f);
        return 1;
      }
    memcpy(w->id, line, strlen(line) + 1); /* valid id: at most 64 bytes */
    if (strlen(c1 + 1) >= sizeof(w->home)) {
      fprintf(stderr, "gs-sim: %s:%d: directory path too long\n", s->devices, lineno);
      fclose(f);
      return 1;
    }
    memcpy(w->home, c1 + 1, strlen(c1 + 1) + 1);
    for (char *t = c2 + 1, *end; t && w->ngrids < MAX_GRIDS; t = end ? end + 1 : NULL) {
      if ((end = strchr(t, ';'))) *end = 0;
      if (!gs_valid_org_id(t)) {
        fprintf(stderr, "gs-sim: %s:%d: bad grid id '%s'\n", s->devices, lineno, t);
        fclose(f);
        return 1;
      }
      memcpy(w->grids[w->ngrids++], t, strlen(t) + 1); /* valid org id: <= 64 bytes */
    }
    if (!w->ngrids) {
      fprintf(stderr, "gs-sim: %s:%d: no grid\n", s->devices, lineno);
      fclose(f);
      return 1;
    }
    s->nw++;
  }
  fclose(f);
  if (!s->nw) {
    fprintf(stderr, "gs-sim: %s lists no devices\n", s->devices);
    return 1;
  }
  return 0;
}

/* Resolves each worker's home, initialising it from a bundle when needed. */
static int prepare_homes(sim *s) {
  char path[4200], err[600];
  if (mkdir(s->workdir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "gs-sim: cannot create %s: %s\n", s->workdir, strerror(errno));
    return 1;
  }
  for (int i = 0; i < s->nw; i++) {
    worker *w = &s->w[i];
    snprintf(path, sizeof(path), "%s/device.db", w->home);
    if (access(path, F_OK) == 0) continue;
    char home[4200];
    snprintf(home, sizeof(home), "%s/%s", s->workdir, w->id);
    if (snprintf(path, sizeof(path), "%s/device.db", home) >= (int)sizeof(path) || strlen(home) >= sizeof(w->home)) {
      fprintf(stderr, "gs-sim: path too long: %s\n", home);
      return 1;
    }
    if (access(path, F_OK) != 0 && gs_dev_init_bundle(home, w->home, err, sizeof(err)) != GS_OK) {
      fprintf(stderr, "gs-sim: device %s: %s\n", w->id, err);
      return 1;
    }
    memcpy(w->home, home, strlen(home) + 1);
  }
  return 0;
}

static int edit(gs_dev *dev, const char *type, const char *id, cJSON *f, result *r) {
  int err = gs_dev_set(dev, type, id, f, NULL);
  cJSON_Delete(f);
  if (err) {
    snprintf(r->msg, sizeof(r->msg), "edit %s: %s", type, gs_dev_errmsg(dev));
    return err;
  }
  r->changes++;
  return GS_OK;
}

static int do_sync(gs_dev *dev, gs_dev_transport *t, int timeout_s, result *r) {
  gs_dev_sync_opts o = {timeout_s * 1000, 10000, 200, 200 * 1024, 500, 0};
  gs_dev_sync_stats st;
  if (o.request_timeout_ms > o.timeout_ms / 2) o.request_timeout_ms = o.timeout_ms / 2;
  int err = gs_dev_sync(dev, t, &o, &st);
  r->acked += st.pushed - st.rejected;
  r->rejected += st.rejected;
  r->conflicts += st.conflicts;
  r->pulled += st.pulled;
  if (err) snprintf(r->msg, sizeof(r->msg), "sync: %s", gs_dev_errmsg(dev));
  return err;
}

/* One worker's round, in a child process. */
static void run_worker(const sim *s, const worker *w, int round, uint64_t seed, result *r) {
  gs_dev *dev = NULL;
  gs_dev_transport t = {NULL, NULL};
  cJSON *hh[MAX_GRIDS] = {0};
  char err[600];
  int64_t now = gs_now_ms();
  memset(r, 0, sizeof(*r));
  if (gs_dev_open(w->home, &dev, err, sizeof(err)) != GS_OK) {
    snprintf(r->msg, sizeof(r->msg), "open: %.240s", err);
    return;
  }
  if (gs_dev_mqtt_transport(dev, &t) != GS_OK) {
    snprintf(r->msg, sizeof(r->msg), "transport: %s", gs_dev_errmsg(dev));
    goto out;
  }
  int budget = s->timeout_s / 2 > 1 ? s->timeout_s / 2 : 1;
  if (do_sync(dev, &t, budget, r)) goto out;
  for (int g = 0; g < w->ngrids; g++) {
    if (gs_dev_list(dev, "household", w->grids[g], &hh[g]) != GS_OK) goto out;
    /* A grid nobody has filled yet: the worker registers a few households. */
    for (int k = cJSON_GetArraySize(hh[g]); k < 5; k++) {
      char addr[128];
      snprintf(addr, sizeof(addr), "%s 幸福路%d号%d室", w->grids[g], rnd(&seed, 200) + 1, rnd(&seed, 6) * 100 + 101);
      cJSON *f = cJSON_CreateObject();
      cJSON_AddStringToObject(f, "grid", w->grids[g]);
      cJSON_AddStringToObject(f, "address", addr);
      cJSON_AddNumberToObject(f, "members", rnd(&seed, 6) + 1);
      if (edit(dev, "household", NULL, f, r)) goto out;
    }
    if (cJSON_GetArraySize(hh[g]) < 5) {
      cJSON_Delete(hh[g]);
      hh[g] = NULL;
      if (gs_dev_list(dev, "household", w->grids[g], &hh[g]) != GS_OK) goto out;
    }
  }
  for (int e = 0; e < s->edits; e++) {
    int g = rnd(&seed, w->ngrids), nh = cJSON_GetArraySize(hh[g]);
    if (nh == 0) {
      snprintf(r->msg, sizeof(r->msg), "grid %s has no household to visit", w->grids[g]);
      goto out;
    }
    cJSON *h = cJSON_GetArrayItem(hh[g], rnd(&seed, nh));
    const char *hid = cJSON_GetObjectItem(h, "id")->valuestring;
    int dice = rnd(&seed, 100);
    cJSON *f = cJSON_CreateObject();
    if (!f) goto out;
    if (dice < 70) {
      cJSON_AddStringToObject(f, "grid", w->grids[g]);
      cJSON_AddStringToObject(f, "household", hid);
      cJSON_AddStringToObject(f, "worker", w->id);
      cJSON_AddNumberToObject(f, "visited_at", (double)(now - rnd(&seed, 3600) * 1000LL));
      cJSON_AddStringToObject(f, "kind", PICK(&seed, kinds));
      cJSON_AddStringToObject(f, "summary", PICK(&seed, summaries));
      cJSON_AddNumberToObject(f, "duration", 5 + rnd(&seed, 56));
      if (edit(dev, "visit", NULL, f, r)) goto out;
    } else if (dice < 82) {
      cJSON_AddStringToObject(f, "grid", w->grids[g]);
      cJSON_AddStringToObject(f, "household", hid);
      cJSON_AddStringToObject(f, "category", PICK(&seed, categories));
      cJSON_AddStringToObject(f, "urgency", PICK(&seed, urgencies));
      cJSON_AddStringToObject(f, "title", PICK(&seed, titles));
      cJSON_AddStringToObject(f, "description", PICK(&seed, descs));
      cJSON_AddStringToObject(f, "status", "open");
      cJSON_AddNumberToObject(f, "due_at", (double)(now + 3 * 86400000LL));
      if (edit(dev, "report", NULL, f, r)) goto out;
    } else {
      cJSON_AddNumberToObject(f, "members", 1 + rnd(&seed, 6));
      if (rnd(&seed, 2)) {
        cJSON *tg = cJSON_AddArrayToObject(f, "tags");
        cJSON_AddItemToArray(tg, cJSON_CreateString(PICK(&seed, tags)));
      }
      if (rnd(&seed, 2)) cJSON_AddStringToObject(f, "note", PICK(&seed, notes));
      if (edit(dev, "household", hid, f, r)) goto out;
    }
  }
  if (do_sync(dev, &t, budget, r)) goto out;
  r->ok = 1;
out:
  for (int g = 0; g < MAX_GRIDS; g++) cJSON_Delete(hh[g]);
  if (t.ops) t.ops->destroy(t.ctx);
  gs_dev_close(dev);
  (void)round;
}

typedef struct slot {
  pid_t pid;
  int fd;
  int idx;
} slot;

int main(int argc, char **argv) {
  sim s = {.rounds = 0, .edits = 20, .jobs = 8, .timeout_s = 60, .seed = 1};
  enum { O_WORKDIR = 256, O_DEVICES, O_ROUNDS, O_EDITS, O_JOBS, O_TIMEOUT, O_SEED, O_PROGRESS, O_VERSION };
  static const struct option lo[] = {{"workdir", required_argument, NULL, O_WORKDIR},
                                     {"devices", required_argument, NULL, O_DEVICES},
                                     {"rounds", required_argument, NULL, O_ROUNDS},
                                     {"edits-per-round", required_argument, NULL, O_EDITS},
                                     {"jobs", required_argument, NULL, O_JOBS},
                                     {"timeout", required_argument, NULL, O_TIMEOUT},
                                     {"seed", required_argument, NULL, O_SEED},
                                     {"progress", no_argument, NULL, O_PROGRESS},
                                     {"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, O_VERSION},
                                     {NULL, 0, NULL, 0}};
  int64_t v;
  int opt;
  while ((opt = gs_cli_getopt(prog, argc, argv, "h", lo)) != -1) {
    switch (opt) {
    case O_WORKDIR: s.workdir = optarg; break;
    case O_DEVICES: s.devices = optarg; break;
    case O_ROUNDS:
      if (int_opt("--rounds", optarg, 1, 100000, &v)) return GS_CLI_EXIT_USAGE;
      s.rounds = (int)v;
      break;
    case O_EDITS:
      if (int_opt("--edits-per-round", optarg, 0, 100000, &v)) return GS_CLI_EXIT_USAGE;
      s.edits = (int)v;
      break;
    case O_JOBS:
      if (int_opt("--jobs", optarg, 1, 1024, &v)) return GS_CLI_EXIT_USAGE;
      s.jobs = (int)v;
      break;
    case O_TIMEOUT:
      if (int_opt("--timeout", optarg, 1, 86400, &v)) return GS_CLI_EXIT_USAGE;
      s.timeout_s = (int)v;
      break;
    case O_SEED:
      if (int_opt("--seed", optarg, 0, INT64_MAX, &v)) return GS_CLI_EXIT_USAGE;
      s.seed = (uint64_t)v;
      break;
    case O_PROGRESS: s.progress = 1; break;
    case 'h': usage(stdout); return GS_CLI_EXIT_OK;
    case O_VERSION: gs_cli_version(prog); return GS_CLI_EXIT_OK;
    default: return GS_CLI_EXIT_USAGE;
    }
  }
  if (optind < argc) return gs_cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
  if (!s.workdir || !s.devices || !s.rounds)
    return gs_cli_usage_error(prog, "--workdir, --devices and --rounds are required");
  gs_log_init("gs-sim", GS_LOG_WARN);
  if (load_devices(&s) || prepare_homes(&s)) return 1;

  result tot;
  int failed = 0;
  memset(&tot, 0, sizeof(tot));
  slot *slots = gs_calloc((size_t)s.jobs, sizeof(*slots));
  if (!slots) return 1;
  int64_t t0 = gs_mono_ms();
  for (int round = 1; round <= s.rounds; round++) {
    int next = 0, running = 0;
    while (next < s.nw || running > 0) {
      while (next < s.nw && running < s.jobs) {
        int fds[2];
        if (pipe(fds) != 0) {
          fprintf(stderr, "gs-sim: pipe: %s\n", strerror(errno));
          return 1;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
          fprintf(stderr, "gs-sim: fork: %s\n", strerror(errno));
          return 1;
        }
        if (pid == 0) {
          close(fds[0]);
          alarm((unsigned)s.timeout_s); /* bounded: SIGALRM ends a stuck worker */
          result r;
          uint64_t seed = s.seed * 6364136223846793005ULL + (uint64_t)round * 1000003ULL + (uint64_t)next * 7919ULL + 1;
          run_worker(&s, &s.w[next], round, seed, &r);
          gs_free(slots);
          gs_free(s.w);
          ssize_t wr = write(fds[1], &r, sizeof(r));
          _exit(wr == (ssize_t)sizeof(r) && r.ok ? 0 : 1);
        }
        close(fds[1]);
        int k = 0;
        while (slots[k].pid) k++;
        slots[k] = (slot){pid, fds[0], next};
        next++;
        running++;
      }
      /* Wait for any worker, then collect it. */
      int status;
      pid_t done = waitpid(-1, &status, WNOHANG);
      if (done <= 0) {
        done = wait(&status);
        if (done <= 0) break;
      }
      for (int k = 0; k < s.jobs; k++)
        if (slots[k].pid == done) {
          /* Already reaped: collect() must not wait again. */
          result r;
          memset(&r, 0, sizeof(r));
          ssize_t n = read(slots[k].fd, &r, sizeof(r));
          close(slots[k].fd);
          if (n != (ssize_t)sizeof(r))
            snprintf(r.msg, sizeof(r.msg), "%s", WIFSIGNALED(status) ? "killed (timeout or crash)" : "no result");
          tot.changes += r.changes;
          tot.acked += r.acked;
          tot.rejected += r.rejected;
          tot.conflicts += r.conflicts;
          tot.pulled += r.pulled;
          if (n != (ssize_t)sizeof(r) || !r.ok) {
            failed++;
            fprintf(stderr, "gs-sim: round %d device %s failed: %s\n", round, s.w[slots[k].idx].id,
                    r.msg[0] ? r.msg : "no result");
          }
          slots[k].pid = 0;
          running--;
        }
    }
    if (s.progress || round == s.rounds)
      fprintf(stderr, "round %d/%d workers %d changes %lld acked %lld rejected %lld\n", round, s.rounds, s.nw,
              tot.changes, tot.acked, tot.rejected);
  }
  double secs = (double)(gs_mono_ms() - t0) / 1000.0;
  printf("gs-sim: devices %d rounds %d changes %lld acked %lld rejected %lld conflicts %lld "
         "pulled %lld failed %d seconds %.1f\n",
         s.nw, s.rounds, tot.changes, tot.acked, tot.rejected, tot.conflicts, tot.pulled, failed, secs);
  gs_free(slots);
  gs_free(s.w);
  return failed ? 1 : 0;
}
