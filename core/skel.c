/* The skel of a migration: container id, config text and dataset list in checksummed records. */
#include "core/skel.h"

#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "core/err.h"
#include "core/stream.h"
#include "crypto/hmac.h"

static int write_name(struct stream_writer *w, uint16_t type, const char *name)
{
	uint8_t n = (uint8_t)strlen(name);
	return stream_write(w, type, &n, 1, name, n);
}

int skel_write(struct io_chan *out, const char *id, const struct ct_config *c, char *config_sum)
{
	uint8_t obuf[8192], end[16];
	struct io_out o;
	struct stream_writer w;
	size_t len;
	if (ct_name_check("container id", id) < 0)
		return -1;
	char *text = malloc(CT_CONFIG_MAX);
	if (!text)
		return err_set("out of memory");
	int r = ct_config_format(c, text, CT_CONFIG_MAX, &len);
	if (r == 0 && config_sum)
		sha256_hex(config_sum, text, len);
	io_out_init(&o, out, obuf, sizeof(obuf));
	if (r == 0)
		r = stream_writer_start(&w, &o, SKEL_MAGIC);
	if (r == 0)
		r = write_name(&w, SKEL_ID, id);
	if (r == 0)
		r = stream_write(&w, SKEL_CONFIG, text, len, NULL, 0);
	if (r == 0)
		r = write_name(&w, SKEL_DATASET, CT_DATASET_ROOT);
	for (size_t i = 0; r == 0 && i < c->n_datasets; i++)
		r = write_name(&w, SKEL_DATASET, c->datasets[i].name);
	if (r == 0) {
		put_u64(end, w.records);
		put_u64(end + 8, stream_writer_digest(&w));
		r = stream_write(&w, SKEL_END, end, sizeof(end), NULL, 0);
	}
	if (r == 0)
		r = io_out_flush(&o);
	free(text);
	return r < 0 ? err_prefix("send skel") : 0;
}

/* A record holding "u8 n + name" and nothing else, into BUF (CAP > 255). */
static int read_name(const struct stream_reader *sr, char *buf, size_t cap, const char *what)
{
	struct cursor c;
	uint8_t n;
	const uint8_t *p;
	cur_init(&c, sr->buf, sr->len);
	if (cur_u8(&c, &n) < 0 || cur_ref(&c, &p, n) < 0 || cur_left(&c) != 0 || n == 0 || n >= cap)
		return err_set("skel: malformed %s record", what);
	if (memchr(p, 0, n))
		return err_set("skel: NUL byte in the %s", what);
	memcpy(buf, p, n);
	buf[n] = 0;
	return 0;
}

static int read_body(struct stream_reader *sr, struct skel *s)
{
	char tn[16], name[256];
	uint64_t records = 0;
	int state = 0; /* 0: want ID, 1: want CONFIG, 2: datasets, then END */
	for (;;) {
		if (stream_read(sr) < 0)
			return -1;
		switch (sr->type) {
		case SKEL_ID:
			if (state != 0)
				return err_set("skel: ID record out of order");
			if (read_name(sr, s->id, sizeof(s->id), "container id") < 0 ||
			    ct_name_check("container id", s->id) < 0)
				return err_prefix("skel");
			state = 1;
			break;
		case SKEL_CONFIG:
			if (state != 1)
				return err_set("skel: CONFIG record out of order");
			if (sr->len > CT_CONFIG_MAX)
				return err_set("skel: config larger than %d bytes", CT_CONFIG_MAX);
			memcpy(s->config_text, sr->buf, sr->len);
			s->config_text[sr->len] = 0;
			s->config_len = sr->len;
			if (ct_config_parse(&s->config, s->config_text, s->config_len) < 0)
				return err_prefix("skel: config");
			state = 2;
			break;
		case SKEL_DATASET:
			if (state != 2)
				return err_set("skel: DATASET record out of order");
			if (read_name(sr, name, sizeof(name), "dataset name") < 0 ||
			    ct_dataset_name_check(name) < 0)
				return err_prefix("skel");
			if (s->n_datasets >= SKEL_DATASETS_MAX)
				return err_set("skel: more than %d datasets", SKEL_DATASETS_MAX);
			/* "/" then the config's sub-datasets, in the config's (sorted) order */
			const char *want = s->n_datasets == 0 ? CT_DATASET_ROOT
					   : s->n_datasets - 1 < s->config.n_datasets
						   ? s->config.datasets[s->n_datasets - 1].name
						   : NULL;
			if (!want || strcmp(want, name))
				return err_set("skel: dataset %s is not the config's dataset %s",
					       name, want ? want : "(none left)");
			memcpy(s->datasets[s->n_datasets++], name, strlen(name) + 1);
			break;
		case SKEL_END: {
			struct cursor c;
			uint64_t count, digest;
			if (state != 2)
				return err_set("skel: END before the config");
			cur_init(&c, sr->buf, sr->len);
			if (cur_u64(&c, &count) < 0 || cur_u64(&c, &digest) < 0 || cur_left(&c))
				return err_set("skel: malformed END record");
			if (count != records || digest != sr->digest_prev)
				return err_set("skel: END does not match the records received");
			if (s->n_datasets != s->config.n_datasets + 1)
				return err_set("skel: %zu datasets listed, the config has %zu",
					       s->n_datasets, s->config.n_datasets + 1);
			return stream_reader_finish(sr);
		}
		default:
			return err_set("skel: unknown record %s", stream_type_name(sr->type, tn));
		}
		records++;
	}
}

int skel_read(struct io_chan *in, struct skel *s)
{
	uint8_t ibuf[8192];
	struct io_in i;
	struct stream_reader sr;
	memset(s, 0, sizeof(*s));
	uint8_t *rec = malloc(SKEL_RECORD_MAX);
	if (!rec)
		return err_set("out of memory");
	io_in_init(&i, in, ibuf, sizeof(ibuf));
	int r = stream_reader_start(&sr, &i, rec, SKEL_RECORD_MAX, SKEL_MAGIC, "skel");
	if (r == 0)
		r = read_body(&sr, s);
	free(rec);
	if (r < 0) {
		memset(s, 0, sizeof(*s));
		return -1;
	}
	return 0;
}
