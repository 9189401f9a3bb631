/* Snapshot manifests on disk: the stream framing with one MENTRY record per path (docs/stream-format.md, "Manifests"). */
#include "core/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cursor.h"
#include "core/err.h"
#include "core/file.h"

#define MENTRY 2 /* record type of one entry; HEADER and END as in streams */

void manifest_entry_stat(struct manifest_entry *e, const struct stat *st)
{
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->nlink = (uint32_t)st->st_nlink;
	e->ino = st->st_ino;
	e->size = (uint64_t)st->st_size;
	e->rdev = st->st_rdev;
	e->mtime_sec = st->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	e->ctime_sec = st->st_ctim.tv_sec;
	e->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
}

int manifest_create(struct manifest_writer *m, int dirfd, const char *name, const char *from)
{
	struct stream_header h;
	uint8_t rec[256];
	m->dirfd = dirfd;
	m->fd = -1;
	m->entries = 0;
	if (!stream_snap_name_ok(name))
		return err_set("invalid snapshot name '%s'", name);
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->tmp, sizeof(m->tmp), ".%s.tmp%ld", name, (long)getpid());
	m->fd = openat(dirfd, m->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (m->fd < 0)
		return err_set_errno("create manifest %s", m->tmp);
	io_chan_fd(&m->ch, &m->fd);
	io_out_init(&m->out, &m->ch, m->buf, sizeof(m->buf));
	memset(&h, 0, sizeof(h));
	h.kind = from && *from ? STREAM_KIND_INCREMENTAL : STREAM_KIND_BASE;
	snprintf(h.snapshot, sizeof(h.snapshot), "%s", name);
	snprintf(h.from, sizeof(h.from), "%s", from ? from : "");
	h.created = (uint64_t)time(NULL);
	long n = stream_encode_header(rec, sizeof(rec), &h);
	if (n < 0 || stream_writer_start(&m->sw, &m->out, MANIFEST_MAGIC) < 0 ||
	    stream_write(&m->sw, STREAM_HEADER, rec, (size_t)n, NULL, 0) < 0) {
		err_prefix("manifest %s", name);
		manifest_abort(m);
		return -1;
	}
	return 0;
}

int manifest_add(struct manifest_writer *m, const struct manifest_entry *e)
{
	uint8_t *p = m->rec;
	if (e->path_len >= STREAM_PATH_MAX)
		return err_set("manifest: path too long");
	put_u16(p, (uint16_t)e->path_len);
	memcpy(p + 2, e->path, e->path_len);
	p += 2 + e->path_len;
	put_u32(p, e->mode);
	put_u32(p + 4, e->uid);
	put_u32(p + 8, e->gid);
	put_u32(p + 12, e->nlink);
	put_u64(p + 16, e->ino);
	put_u64(p + 24, e->size);
	put_u64(p + 32, e->rdev);
	put_u64(p + 40, e->hash);
	put_u64(p + 48, (uint64_t)e->mtime_sec);
	put_u32(p + 56, e->mtime_nsec);
	put_u64(p + 60, (uint64_t)e->ctime_sec);
	put_u32(p + 68, e->ctime_nsec);
	m->entries++;
	return stream_write(&m->sw, MENTRY, m->rec, 2 + e->path_len + 72, NULL, 0);
}

int manifest_commit(struct manifest_writer *m)
{
	uint8_t rec[64];
	struct stream_end end = {m->sw.records, m->entries, 0, stream_writer_digest(&m->sw)};
	long n = stream_encode_end(rec, sizeof(rec), &end);
	if (n < 0 || stream_write(&m->sw, STREAM_END, rec, (size_t)n, NULL, 0) < 0 ||
	    io_out_flush(&m->out) < 0)
		goto fail;
	if (fsync(m->fd) < 0) {
		err_set_errno("fsync");
		goto fail;
	}
	if (close(m->fd) < 0) {
		m->fd = -1;
		err_set_errno("close");
		goto fail;
	}
	m->fd = -1;
	if (renameat(m->dirfd, m->tmp, m->dirfd, m->name) < 0) {
		err_set_errno("rename");
		goto fail;
	}
	m->tmp[0] = 0;
	return file_fsync_dir(m->dirfd);
fail:
	err_prefix("manifest %s", m->name);
	manifest_abort(m);
	return -1;
}

void manifest_abort(struct manifest_writer *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	if (m->tmp[0])
		unlinkat(m->dirfd, m->tmp, 0);
	m->tmp[0] = 0;
}

int manifest_open(struct manifest_reader *m, int dirfd, const char *name)
{
	m->fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	m->entries = 0;
	m->have_prev = m->done = 0;
	if (m->fd < 0) {
		if (errno == ENOENT)
			return err_set("no snapshot '%s'", name);
		return err_set_errno("manifest %s", name);
	}
	io_chan_fd(&m->ch, &m->fd);
	io_in_init(&m->in, &m->ch, m->buf, sizeof(m->buf));
	if (stream_reader_start(&m->sr, &m->in, m->rec, sizeof(m->rec), MANIFEST_MAGIC,
				"manifest") < 0 ||
	    stream_read(&m->sr) < 0)
		goto fail;
	if (m->sr.type != STREAM_HEADER) {
		err_set("manifest does not start with a header");
		goto fail;
	}
	if (stream_decode_header(m->sr.buf, m->sr.len, &m->header) < 0)
		goto fail;
	return 0;
fail:
	err_prefix("snapshot %s", name);
	manifest_close(m);
	return -1;
}

int manifest_next(struct manifest_reader *m, struct manifest_entry *e)
{
	struct cursor c;
	uint16_t pl = 0;
	if (m->done)
		return 0;
	if (stream_read(&m->sr) < 0)
		return -1;
	if (m->sr.type == STREAM_END) {
		struct stream_end end;
		if (stream_decode_end(m->sr.buf, m->sr.len, &end) < 0)
			return err_prefix("manifest");
		if (end.records != m->sr.records - 1 || end.entries != m->entries ||
		    end.digest != m->sr.digest_prev)
			return err_set("manifest: END totals or digest do not match");
		if (stream_reader_finish(&m->sr) < 0)
			return -1;
		m->done = 1;
		return 0;
	}
	if (m->sr.type != MENTRY)
		return err_set("manifest: unexpected record type %u", m->sr.type);
	cur_init(&c, m->sr.buf, m->sr.len);
	if (cur_u16(&c, &pl) < 0 || pl >= STREAM_PATH_MAX || cur_bytes(&c, e->path, pl) < 0)
		return err_set("manifest: bad entry");
	e->path[pl] = 0;
	e->path_len = pl;
	uint64_t mt = 0, ct = 0;
	cur_u32(&c, &e->mode);
	cur_u32(&c, &e->uid);
	cur_u32(&c, &e->gid);
	cur_u32(&c, &e->nlink);
	cur_u64(&c, &e->ino);
	cur_u64(&c, &e->size);
	cur_u64(&c, &e->rdev);
	cur_u64(&c, &e->hash);
	cur_u64(&c, &mt);
	cur_u32(&c, &e->mtime_nsec);
	cur_u64(&c, &ct);
	cur_u32(&c, &e->ctime_nsec);
	e->mtime_sec = (int64_t)mt;
	e->ctime_sec = (int64_t)ct;
	if (c.failed || cur_left(&c))
		return err_set("manifest: bad entry length");
	if (pl ? !stream_path_ok(e->path, pl) : m->have_prev)
		return err_set("manifest: bad path");
	if (m->have_prev && stream_path_cmp(m->prev, e->path) >= 0)
		return err_set("manifest: entries out of order at /%s", e->path);
	memcpy(m->prev, e->path, pl + 1);
	m->have_prev = 1;
	m->entries++;
	return 1;
}

void manifest_close(struct manifest_reader *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}
