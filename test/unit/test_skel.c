/* Unit tests of core/skel: a round trip, and every truncation, flipped byte and inconsistency refused. */
#define CHECK_SUITE "skel"
#include "test/unit/check.h"

#include <stdlib.h>

#include "core/err.h"
#include "core/skel.h"

struct mem {
	uint8_t buf[8192];
	size_t len, pos;
};

static ssize_t mem_write(void *ctx, const void *p, size_t n)
{
	struct mem *m = ctx;
	if (n > sizeof(m->buf) - m->len)
		return err_set("full");
	memcpy(m->buf + m->len, p, n);
	m->len += n;
	return (ssize_t)n;
}

static ssize_t mem_read(void *ctx, void *p, size_t n)
{
	struct mem *m = ctx;
	if (n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(p, m->buf + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static struct skel *read_back(struct mem *m, int *r)
{
	static struct skel s;
	struct io_chan ch = {m, mem_read, mem_write};
	m->pos = 0;
	*r = skel_read(&ch, &s);
	return &s;
}

static void make(struct mem *m, struct ct_config *c, char *sum)
{
	struct io_chan ch = {m, mem_read, mem_write};
	memset(m, 0, sizeof(*m));
	CHECK_INT(skel_write(&ch, "web1", c, sum), 0);
}

static void test_round_trip(void)
{
	static struct mem m;
	static struct ct_config c;
	char sum[65];
	int r;
	ct_config_init(&c);
	CHECK_INT(ct_config_set(&c, "hostname", "webhost"), 0);
	CHECK_INT(ct_config_set(&c, "dataset.data", "/srv/data"), 0);
	CHECK_INT(ct_config_set(&c, "dataset.srv/www", "/srv/www"), 0);
	make(&m, &c, sum);
	CHECK_INT(strlen(sum), 64);
	struct skel *s = read_back(&m, &r);
	CHECK_INT(r, 0);
	CHECK_STR(s->id, "web1");
	CHECK_STR(s->config.hostname, "webhost");
	CHECK_INT(s->n_datasets, 3);
	CHECK_STR(s->datasets[0], "/");
	CHECK_STR(s->datasets[1], "data");
	CHECK_STR(s->datasets[2], "srv/www");
	CHECK_INT(s->config.n_datasets, 2);

	/* every truncation and every flipped byte is refused */
	size_t full = m.len;
	for (size_t n = 0; n < full; n++) {
		m.len = n;
		read_back(&m, &r);
		if (!CHECK_INT(r, -1))
			fprintf(stderr, "    accepted a skel cut at %zu of %zu bytes\n", n, full);
	}
	m.len = full;
	for (size_t i = 0; i < full; i++) {
		m.buf[i] ^= 0x20;
		read_back(&m, &r);
		if (!CHECK_INT(r, -1))
			fprintf(stderr, "    accepted a skel with byte %zu flipped\n", i);
		m.buf[i] ^= 0x20;
	}
	/* a byte after END */
	m.buf[m.len++] = 0;
	read_back(&m, &r);
	CHECK_INT(r, -1);
	CHECK(strstr(err_msg(), "after the END") != NULL);
}

static void test_refusals(void)
{
	static struct mem m;
	static struct ct_config c;
	int r;
	ct_config_init(&c);
	struct io_chan ch = {&m, mem_read, mem_write};
	memset(&m, 0, sizeof(m));
	CHECK_INT(skel_write(&ch, "../x", &c, NULL), -1);
	CHECK_INT(m.len, 0);
	memcpy(m.buf,
	       "\x89"
	       "FTREE\r\n\0\0\0\1",
	       12); /* a tree stream is not a skel */
	m.len = 12;
	read_back(&m, &r);
	CHECK_INT(r, -1);
	CHECK(strstr(err_msg(), "bad magic") != NULL);
	m.len = 0;
	read_back(&m, &r);
	CHECK_INT(r, -1);
	CHECK(strstr(err_msg(), "empty") != NULL);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_refusals);
	return CHECK_DONE();
}
