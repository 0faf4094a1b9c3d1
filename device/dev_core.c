/* dev_core.c - device home (init/open), local edits and local queries.
 *
 * A local edit is one transaction: HLC tick, base versions read from the
 * local copy, the change appended to the outbox, the local copy updated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "dev_int.h"
#include "gs_buf.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

#define PEM_MAX (64 * 1024)

int dev__fail(gs_dev *dev, int err, const char *fmt, ...) {
  if (dev) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dev->err, sizeof(dev->err), fmt, ap);
    va_end(ap);
  }
  return err;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail_buf(char *buf, size_t len, int err, const char *fmt, ...) {
  if (buf && len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
  }
  return err;
}

const char *gs_dev_id(const gs_dev *dev) { return dev->id; }
const char *gs_dev_errmsg(const gs_dev *dev) { return dev ? dev->err : ""; }

/* ---- configuration ---------------------------------------------------- */

static int conf_cb(void *user, const char *section, const char *name, const char *value) {
  gs_dev *d = user;
  int64_t port;
  if (!strcmp(section, "device") && !strcmp(name, "id")) {
    snprintf(d->id, sizeof(d->id), "%s", value);
  } else if (!strcmp(section, "mqtt") && !strcmp(name, "host")) {
    snprintf(d->host, sizeof(d->host), "%s", value);
  } else if (!strcmp(section, "coap") && !strcmp(name, "host")) {
    snprintf(d->coap_host, sizeof(d->coap_host), "%s", value);
  } else if (!strcmp(name, "port") && (!strcmp(section, "mqtt") || !strcmp(section, "coap"))) {
    if (gs_parse_i64(value, 0, 65535, &port) != GS_OK) return 0;
    if (!strcmp(section, "mqtt")) d->mqtt_port = (int)port;
    else d->coap_port = (int)port;
  }
  return 1; /* unknown keys are ignored: bundles may carry more */
}

/* hint: what to do when device.conf is missing. */
static int conf_read(const char *dir, gs_dev *d, const char *hint, char *errbuf, size_t errlen) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof(path), "%s/device.conf", dir);
  FILE *f = fopen(path, "r");
  if (!f) return fail_buf(errbuf, errlen, GS_ECONFIG, "cannot open %s: %s (%s)", path, strerror(errno), hint);
  int line = ini_parse_file(f, conf_cb, d);
  fclose(f);
  if (line != 0) return fail_buf(errbuf, errlen, GS_ECONFIG, "%s: bad value at line %d", path, line);
  if (!gs_valid_device_id(d->id))
    return fail_buf(errbuf, errlen, GS_ECONFIG, "%s: [device] id '%s' is not a valid device id ([a-z0-9-]{3,64})", path,
                    d->id);
  return GS_OK;
}

static int valid_host(const char *h) {
  if (!h || !*h || strlen(h) >= 255) return 0;
  for (; *h; h++)
    if (*h <= ' ' || *h == '=' || *h == '[' || *h == ']' || *h == ';' || *h == '#') return 0;
  return 1;
}

static int copy_file(const char *src, const char *dir, const char *name, mode_t mode, char *errbuf, size_t errlen) {
  char *data = NULL;
  size_t len = 0;
  char dst[PATH_MAX + 32], tmp[PATH_MAX + 40];
  int err = gs_read_file(src, PEM_MAX, &data, &len);
  if (err) return fail_buf(errbuf, errlen, GS_EIO, "cannot read %s: %s", src, gs_strerror(err));
  snprintf(dst, sizeof(dst), "%s/%s", dir, name);
  snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) {
    err = fail_buf(errbuf, errlen, GS_EIO, "cannot create %s: %s", tmp, strerror(errno));
    goto out;
  }
  ssize_t w = write(fd, data, len);
  if (w < 0 || (size_t)w != len || fsync(fd) != 0) {
    err = fail_buf(errbuf, errlen, GS_EIO, "cannot write %s: %s", tmp, strerror(errno));
    close(fd);
    goto out;
  }
  close(fd);
  if (rename(tmp, dst) != 0) err = fail_buf(errbuf, errlen, GS_EIO, "cannot rename %s: %s", tmp, strerror(errno));
out:
  gs_free(data);
  return err;
}

static int write_conf(const char *home, const gs_dev_conf *c, char *errbuf, size_t errlen) {
  char path[PATH_MAX + 16], tmp[PATH_MAX + 24];
  snprintf(path, sizeof(path), "%s/device.conf", home);
  snprintf(tmp, sizeof(tmp), "%s/.device.conf.tmp", home);
  FILE *f = fopen(tmp, "w");
  if (!f) return fail_buf(errbuf, errlen, GS_EIO, "cannot create %s: %s", tmp, strerror(errno));
  fprintf(f, "# written by gs-device init\n[device]\nid=%s\n\n[mqtt]\nhost=%s\nport=%d\n", c->id, c->host,
          c->mqtt_port);
  if (c->coap_port > 0) fprintf(f, "\n[coap]\nhost=%s\nport=%d\n", c->host, c->coap_port);
  int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0)
    return fail_buf(errbuf, errlen, GS_EIO, "cannot write %s: %s", path, strerror(errno));
  return GS_OK;
}

int gs_dev_init(const char *home, const gs_dev_conf *c, char *errbuf, size_t errlen) {
  gs_dev d;
  int err;
  memset(&d, 0, sizeof(d));
  if (!home || !*home || strlen(home) >= PATH_MAX - 64)
    return fail_buf(errbuf, errlen, GS_EINVAL, "home directory path missing or too long");
  if (!c->id || !gs_valid_device_id(c->id))
    return fail_buf(errbuf, errlen, GS_EINVAL, "device id '%s' is invalid: use 3-64 of [a-z0-9-]", c->id ? c->id : "");
  if (!valid_host(c->host)) return fail_buf(errbuf, errlen, GS_EINVAL, "host '%s' is invalid", c->host ? c->host : "");
  if (c->mqtt_port < 1 || c->mqtt_port > 65535 || c->coap_port < 0 || c->coap_port > 65535)
    return fail_buf(errbuf, errlen, GS_EINVAL, "port out of range 1..65535");
  if (!c->ca || !c->cert || !c->key)
    return fail_buf(errbuf, errlen, GS_EINVAL, "CA, certificate and key files are required");
  if (mkdir(home, 0700) != 0 && errno != EEXIST)
    return fail_buf(errbuf, errlen, GS_EIO, "cannot create %s: %s", home, strerror(errno));
  /* Check the files are readable before writing anything. */
  const char *srcs[3] = {c->ca, c->cert, c->key};
  for (int i = 0; i < 3; i++)
    if (access(srcs[i], R_OK) != 0)
      return fail_buf(errbuf, errlen, GS_EIO, "cannot read %s: %s", srcs[i], strerror(errno));
  /* Refuse to re-point a store that belongs to another device. */
  snprintf(d.home, sizeof(d.home), "%s", home);
  if ((err = dev__store_open(&d))) goto out;
  char *old = NULL;
  if ((err = dev__meta_get_text(&d, "device_id", &old))) goto out;
  if (old && strcmp(old, c->id) != 0) {
    err =
        fail_buf(errbuf, errlen, GS_EEXISTS, "%s already holds the store of device %s; use another --home", home, old);
    gs_free(old);
    dev__store_close(&d);
    return err;
  }
  gs_free(old);
  if ((err = dev__meta_set_text(&d, "device_id", c->id))) goto out;
  if ((err = copy_file(c->ca, home, "ca.crt", 0644, errbuf, errlen)) ||
      (err = copy_file(c->cert, home, "device.crt", 0644, errbuf, errlen)) ||
      (err = copy_file(c->key, home, "device.key", 0600, errbuf, errlen)) ||
      (err = write_conf(home, c, errbuf, errlen))) {
    dev__store_close(&d);
    return err;
  }
out:
  if (err) fail_buf(errbuf, errlen, err, "%s", d.err);
  dev__store_close(&d);
  return err;
}

int gs_dev_init_bundle(const char *home, const char *bundle, char *errbuf, size_t errlen) {
  gs_dev b;
  char ca[PATH_MAX + 16], crt[PATH_MAX + 16], key[PATH_MAX + 16];
  memset(&b, 0, sizeof(b));
  int err = conf_read(bundle, &b, "is it a bundle made by gs-certs bundle?", errbuf, errlen);
  if (err) return err;
  snprintf(ca, sizeof(ca), "%s/ca.crt", bundle);
  snprintf(crt, sizeof(crt), "%s/device.crt", bundle);
  snprintf(key, sizeof(key), "%s/device.key", bundle);
  gs_dev_conf c = {.id = b.id,
                   .ca = ca,
                   .cert = crt,
                   .key = key,
                   .host = b.host,
                   .mqtt_port = b.mqtt_port,
                   .coap_port = b.coap_port};
  if (!b.host[0] || !b.mqtt_port)
    return fail_buf(errbuf, errlen, GS_ECONFIG, "%s/device.conf lacks [mqtt] host and port", bundle);
  return gs_dev_init(home, &c, errbuf, errlen);
}

int gs_dev_open(const char *home, gs_dev **out, char *errbuf, size_t errlen) {
  *out = NULL;
  gs_dev *d = gs_calloc(1, sizeof(*d));
  if (!d) return fail_buf(errbuf, errlen, GS_ENOMEM, "out of memory");
  if (strlen(home) >= sizeof(d->home) - 64) {
    gs_free(d);
    return fail_buf(errbuf, errlen, GS_EINVAL, "home path too long");
  }
  snprintf(d->home, sizeof(d->home), "%s", home);
  char *sid = NULL;
  int err = conf_read(home, d, "run gs-device init first", errbuf, errlen);
  if (err) goto fail;
  char db[PATH_MAX + 16];
  snprintf(db, sizeof(db), "%s/device.db", home);
  if (access(db, F_OK) != 0) {
    err = fail_buf(errbuf, errlen, GS_ECONFIG, "%s missing: run gs-device init", db);
    goto fail;
  }
  if ((err = dev__store_open(d)) || (err = dev__meta_get_text(d, "device_id", &sid))) {
    fail_buf(errbuf, errlen, err, "%s", d->err);
    goto fail;
  }
  if (!sid || strcmp(sid, d->id) != 0) {
    err = fail_buf(errbuf, errlen, GS_ECONFIG, "%s belongs to device %s, device.conf says %s", db, sid ? sid : "(none)",
                   d->id);
    goto fail;
  }
  gs_free(sid);
  *out = d;
  return GS_OK;
fail:
  gs_free(sid);
  gs_dev_close(d);
  return err;
}

void gs_dev_close(gs_dev *dev) {
  if (!dev) return;
  dev__store_close(dev);
  gs_free(dev);
}

/* ---- local edits ------------------------------------------------------ */

static int valid_name(const char *s, int allow_underscore_start) {
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > 64) return 0;
  if (s[0] == '_' && !allow_underscore_start) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9')))
      return 0;
  }
  return 1;
}

int gs_dev_set(gs_dev *dev, const char *type, const char *entity_id, const cJSON *fields, char *out_id) {
  char eid[DEV_ID_MAX + 1], cid[37];
  cJSON *lf = NULL, *lv = NULL, *change = NULL, *base = NULL;
  char *body = NULL;
  int err, in_tx = 0;
  const cJSON *f;

  dev->err[0] = 0;
  if (!valid_name(type, 0) || strlen(type) > 32)
    return dev__fail(dev, GS_EINVAL, "entity type '%s' is invalid", type ? type : "");
  if (entity_id && !gs_valid_entity_id(entity_id))
    return dev__fail(dev, GS_EINVAL, "entity id '%s' is invalid ([A-Za-z0-9_-]{1,64})", entity_id);
  if (!cJSON_IsObject(fields) || !fields->child)
    return dev__fail(dev, GS_EINVAL, "nothing to set: give at least one field");
  cJSON_ArrayForEach(f, fields) {
    if (!valid_name(f->string, 1)) return dev__fail(dev, GS_EINVAL, "field name '%s' is invalid", f->string);
    if (f->string[0] == '_' && strcmp(f->string, "_deleted") != 0)
      return dev__fail(dev, GS_EINVAL, "field name '%s' is reserved", f->string);
  }
  if (!entity_id) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(fields, "grid");
    if (!cJSON_IsString(g) || !gs_valid_org_id(g->valuestring))
      return dev__fail(dev, GS_EINVAL, "a new %s needs a valid grid (grid=<org id>)", type);
    gs_uuid7(gs_now_ms(), eid);
  } else {
    snprintf(eid, sizeof(eid), "%s", entity_id);
  }
  gs_uuid7(gs_now_ms(), cid);

  if ((err = dev__store_begin(dev))) goto out;
  in_tx = 1;
  dev_hlc h;
  int64_t seq = 1;
  if ((err = dev__hlc_load(dev, &h))) goto out;
  dev__hlc_tick(&h, gs_now_ms());
  err = dev__meta_get_i64(dev, "next_seq", 1, &seq);
  if (err && err != GS_ENOTFOUND) goto out;
  err = dev__entity_load(dev, type, eid, &lf, &lv, NULL);
  if (err && err != GS_ENOTFOUND) goto out;
  err = GS_ENOMEM;
  if (!(change = cJSON_CreateObject()) || !(base = cJSON_CreateObject())) goto out;
  cJSON_ArrayForEach(f, fields) {
    const cJSON *had = cJSON_GetObjectItemCaseSensitive(lv, f->string);
    if (had && !cJSON_AddItemToObject(base, f->string, cJSON_Duplicate(had, 1))) goto out;
    cJSON *nv = cJSON_Duplicate(f, 1), *ver = dev__ver_new(h, dev->id);
    if (!nv || !ver) {
      cJSON_Delete(nv);
      cJSON_Delete(ver);
      goto out;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(lf, f->string);
    cJSON_DeleteItemFromObjectCaseSensitive(lv, f->string);
    cJSON_AddItemToObject(lf, f->string, nv);
    cJSON_AddItemToObject(lv, f->string, ver);
  }
  if (!cJSON_AddStringToObject(change, "id", cid) || !cJSON_AddNumberToObject(change, "seq", (double)seq) ||
      !cJSON_AddStringToObject(change, "type", type) || !cJSON_AddStringToObject(change, "entity", eid) ||
      !cJSON_AddItemToObject(change, "hlc", dev__ver_new(h, NULL)))
    goto out;
  cJSON_AddItemToObject(change, "base", base);
  base = NULL;
  if (!cJSON_AddItemToObject(change, "set", cJSON_Duplicate(fields, 1))) goto out;
  if (!(body = cJSON_PrintUnformatted(change))) goto out;
  if ((err = dev__outbox_add(dev, seq, cid, body)) || (err = dev__entity_save(dev, type, eid, lf, lv, -1)) ||
      (err = dev__meta_set_i64(dev, "next_seq", seq + 1)) || (err = dev__hlc_save(dev, h)) ||
      (err = dev__store_commit(dev)))
    goto out;
  in_tx = 0;
  if (out_id) snprintf(out_id, DEV_ID_MAX + 1, "%s", eid);
out:
  if (err == GS_ENOMEM && !dev->err[0]) dev__fail(dev, err, "out of memory building the change");
  if (in_tx) dev__store_rollback(dev);
  cJSON_Delete(lf);
  cJSON_Delete(lv);
  cJSON_Delete(change);
  cJSON_Delete(base);
  cJSON_free(body);
  return err;
}

int dev__revert(gs_dev *dev, const char *body, int *reverted) {
  cJSON *c = cJSON_Parse(body), *lf = NULL, *lv = NULL, *mine = NULL;
  int err = GS_OK;
  dev_hlc h;
  *reverted = 0;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
  const cJSON *ent = cJSON_GetObjectItemCaseSensitive(c, "entity");
  const cJSON *set = cJSON_GetObjectItemCaseSensitive(c, "set"), *f;
  if (!cJSON_IsString(type) || !cJSON_IsString(ent) || !cJSON_IsObject(set) ||
      dev__hlc_parse(cJSON_GetObjectItemCaseSensitive(c, "hlc"), &h, NULL) != GS_OK)
    goto out; /* not ours to undo */
  if (!(mine = dev__ver_new(h, dev->id))) {
    err = GS_ENOMEM;
    goto out;
  }
  err = dev__entity_load(dev, type->valuestring, ent->valuestring, &lf, &lv, NULL);
  if (err) {
    if (err == GS_ENOTFOUND) err = GS_OK;
    goto out;
  }
  cJSON_ArrayForEach(f, set) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(lv, f->string);
    if (v && gs_dev_ver_cmp(v, mine) == 0) {
      cJSON_DeleteItemFromObjectCaseSensitive(lf, f->string);
      cJSON_DeleteItemFromObjectCaseSensitive(lv, f->string);
      (*reverted)++;
    }
  }
  if (!*reverted) goto out;
  if (lv->child) {
    err = dev__entity_save(dev, type->valuestring, ent->valuestring, lf, lv, -1);
  } else {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(dev->db, "DELETE FROM entity WHERE type=? AND id=?", -1, &st, NULL) != SQLITE_OK)
      err = GS_ESTORE;
    else {
      sqlite3_bind_text(st, 1, type->valuestring, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, ent->valuestring, -1, SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE) err = GS_ESTORE;
    }
    sqlite3_finalize(st);
    if (err)
      dev__fail(dev, err, "drop rejected entity %s/%s: %s", type->valuestring, ent->valuestring,
                sqlite3_errmsg(dev->db));
  }
out:
  cJSON_Delete(c);
  cJSON_Delete(lf);
  cJSON_Delete(lv);
  cJSON_Delete(mine);
  return err;
}

int gs_dev_delete(gs_dev *dev, const char *type, const char *entity_id) {
  cJSON *e = NULL;
  int err = gs_dev_get(dev, type, entity_id, &e);
  cJSON_Delete(e);
  if (err) return err;
  cJSON *f = cJSON_CreateObject();
  if (!f || !cJSON_AddTrueToObject(f, "_deleted")) {
    cJSON_Delete(f);
    return dev__fail(dev, GS_ENOMEM, "out of memory");
  }
  err = gs_dev_set(dev, type, entity_id, f, NULL);
  cJSON_Delete(f);
  return err;
}

static cJSON *entity_json(const char *type, const char *id, int64_t rev, cJSON *fields, cJSON *ver) {
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "type", type) || !cJSON_AddStringToObject(o, "id", id) ||
      !cJSON_AddNumberToObject(o, "rev", (double)rev)) {
    cJSON_Delete(o);
    cJSON_Delete(fields);
    cJSON_Delete(ver);
    return NULL;
  }
  cJSON_AddItemToObject(o, "fields", fields);
  cJSON_AddItemToObject(o, "ver", ver);
  return o;
}

int gs_dev_get(gs_dev *dev, const char *type, const char *entity_id, cJSON **out) {
  cJSON *f = NULL, *v = NULL;
  int64_t rev = 0;
  *out = NULL;
  if (!type || !entity_id) return dev__fail(dev, GS_EINVAL, "type and id are required");
  int err = dev__entity_load(dev, type, entity_id, &f, &v, &rev);
  if (err) {
    cJSON_Delete(f);
    cJSON_Delete(v);
    if (err == GS_ENOTFOUND) dev__fail(dev, err, "no %s with id %s on this device (sync to fetch it)", type, entity_id);
    return err;
  }
  *out = entity_json(type, entity_id, rev, f, v);
  return *out ? GS_OK : dev__fail(dev, GS_ENOMEM, "out of memory");
}

int gs_dev_list(gs_dev *dev, const char *type, const char *grid, cJSON **out) {
  sqlite3_stmt *st = NULL;
  cJSON *arr = cJSON_CreateArray();
  int err = GS_OK, rc;
  *out = NULL;
  if (!arr) return dev__fail(dev, GS_ENOMEM, "out of memory");
  rc = sqlite3_prepare_v2(dev->db,
                          "SELECT id, fields, ver, rev FROM entity WHERE type=?1"
                          " AND (?2 IS NULL OR grid=?2)"
                          " AND coalesce(json_extract(fields, '$._deleted'), 0) = 0 ORDER BY id",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    err = dev__fail(dev, GS_ESTORE, "list %s: %s", type, sqlite3_errmsg(dev->db));
    goto out;
  }
  sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
  if (grid) sqlite3_bind_text(st, 2, grid, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    cJSON *e = entity_json(type, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 3),
                           cJSON_Parse((const char *)sqlite3_column_text(st, 1)),
                           cJSON_Parse((const char *)sqlite3_column_text(st, 2)));
    if (!e) {
      err = dev__fail(dev, GS_ENOMEM, "out of memory");
      goto out;
    }
    cJSON_AddItemToArray(arr, e);
  }
  if (rc != SQLITE_DONE) err = dev__fail(dev, GS_ESTORE, "list %s: %s", type, sqlite3_errmsg(dev->db));
out:
  sqlite3_finalize(st);
  if (err) cJSON_Delete(arr);
  else *out = arr;
  return err;
}

int gs_dev_rejected(gs_dev *dev, cJSON **out) {
  sqlite3_stmt *st = NULL;
  cJSON *arr = cJSON_CreateArray();
  int err = GS_OK, rc;
  *out = NULL;
  if (!arr) return dev__fail(dev, GS_ENOMEM, "out of memory");
  rc = sqlite3_prepare_v2(dev->db,
                          "SELECT change_id, seq, type, entity, error, detail, body, at_ms"
                          " FROM rejected ORDER BY seq",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    err = dev__fail(dev, GS_ESTORE, "list rejected: %s", sqlite3_errmsg(dev->db));
    goto out;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    cJSON *o = cJSON_CreateObject();
    if (!o) {
      err = dev__fail(dev, GS_ENOMEM, "out of memory");
      goto out;
    }
    cJSON_AddItemToArray(arr, o);
    cJSON_AddStringToObject(o, "id", (const char *)sqlite3_column_text(st, 0));
    cJSON_AddNumberToObject(o, "seq", (double)sqlite3_column_int64(st, 1));
    const char *t = (const char *)sqlite3_column_text(st, 2);
    const char *e = (const char *)sqlite3_column_text(st, 3);
    cJSON_AddStringToObject(o, "type", t ? t : "");
    cJSON_AddStringToObject(o, "entity", e ? e : "");
    cJSON_AddStringToObject(o, "error", (const char *)sqlite3_column_text(st, 4));
    const char *d = (const char *)sqlite3_column_text(st, 5);
    cJSON_AddStringToObject(o, "detail", d ? d : "");
    cJSON_AddNumberToObject(o, "at_ms", (double)sqlite3_column_int64(st, 7));
    cJSON *ch = cJSON_Parse((const char *)sqlite3_column_text(st, 6));
    if (ch) cJSON_AddItemToObject(o, "change", ch);
  }
  if (rc != SQLITE_DONE) err = dev__fail(dev, GS_ESTORE, "list rejected: %s", sqlite3_errmsg(dev->db));
out:
  sqlite3_finalize(st);
  if (err) cJSON_Delete(arr);
  else *out = arr;
  return err;
}

int gs_dev_get_status(gs_dev *dev, gs_dev_status *st) {
  dev_hlc h;
  sqlite3_stmt *q = NULL;
  memset(st, 0, sizeof(*st));
  snprintf(st->id, sizeof(st->id), "%s", dev->id);
  int err = dev__hlc_load(dev, &h);
  if (err) return err;
  st->hlc_ms = h.ms;
  st->hlc_c = h.c;
  err = dev__meta_get_i64(dev, "next_seq", 1, &st->next_seq);
  if (err == GS_OK || err == GS_ENOTFOUND) err = dev__meta_get_i64(dev, "acked_seq", 0, &st->acked_seq);
  if (err == GS_OK || err == GS_ENOTFOUND) err = dev__meta_get_i64(dev, "cursor", 0, &st->cursor);
  if (err && err != GS_ENOTFOUND) return err;
  st->outbox = dev__outbox_count(dev);
  if (st->outbox < 0) return dev__fail(dev, GS_ESTORE, "count outbox: %s", sqlite3_errmsg(dev->db));
  if (sqlite3_prepare_v2(dev->db, "SELECT count(*) FROM rejected", -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW)
    st->rejected = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return GS_OK;
}
