/* The skel: what `migrate stage` sends to `receive skel` (container id, config, datasets), framed and checksummed (docs/migration-protocol.md, "The skel"). */
#ifndef FERRY_SKEL_H
#define FERRY_SKEL_H

#include <stddef.h>

#include "core/ct.h"
#include "core/io.h"

#define SKEL_MAGIC                                                                                 \
	"\x89"                                                                                     \
	"FSKEL\r\n"
/* Record types (the stream framing of core/stream.h with this magic). */
#define SKEL_ID		  1 /* u8 n + the container id */
#define SKEL_CONFIG	  2 /* the config text (docs/container-config.md), at most CT_CONFIG_MAX */
#define SKEL_DATASET	  3 /* u8 n + a dataset name; one per dataset, "/" first, then sorted */
#define SKEL_END	  8 /* u64 records before END, u64 digest of their checks */
#define SKEL_RECORD_MAX	  (CT_CONFIG_MAX + 16)
#define SKEL_DATASETS_MAX (CT_DATASETS_MAX + 1)

/* A received skel; large (the config text): allocate it. */
struct skel {
	char id[CT_NAME_MAX + 1];
	char config_text[CT_CONFIG_MAX + 1];
	size_t config_len;
	struct ct_config config; /* parsed from config_text */
	size_t n_datasets;
	char datasets[SKEL_DATASETS_MAX][CT_DATASET_NAME_MAX + 1];
};

/*
 * Writes the skel of container ID with config C to OUT: SKEL_ID, SKEL_CONFIG
 * (ct_config_format of C), one SKEL_DATASET per dataset ("/" and C's
 * sub-datasets), SKEL_END; flushed. If CONFIG_SUM is not NULL it gets the
 * SHA-256 hex (65 bytes) of the config text sent. 0 or -1 with err_set.
 */
int skel_write(struct io_chan *out, const char *id, const struct ct_config *c, char *config_sum);

/*
 * Reads one skel from IN into S and checks it whole: magic and version,
 * every record's checksum and bound, the order ID, CONFIG, DATASET...,
 * END (its count and digest), nothing after END, a valid id, a config
 * ct_config_parse accepts, and a dataset list that is exactly "/" plus the
 * config's sub-datasets in order. 0 or -1 with err_set.
 */
int skel_read(struct io_chan *in, struct skel *s);

#endif
