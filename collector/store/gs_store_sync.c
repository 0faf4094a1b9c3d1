/* gs_store_sync.c - see gs_store.h. */
#include "gs_store_int.h"

#include "gs_error.h"
