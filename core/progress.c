/* Progress lines on a terminal and a JSON hook, rate-limited; no global state. */
#include "core/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void progress_init(struct progress *p, const char *label, int fd, int mode)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->fd = fd;
	p->draw = mode == PROGRESS_ALWAYS || (mode == PROGRESS_AUTO && fd >= 0 && isatty(fd));
	p->start_ns = p->last_ns = now_ns();
}

double progress_elapsed(const struct progress *p)
{
	return (double)(now_ns() - p->start_ns) / 1e9;
}

const char *progress_bytes(char *buf, size_t cap, double n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int u = 0;
	while (n >= 1024 && u < 5) {
		n /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%.0f B", n);
	else
		snprintf(buf, cap, "%.1f %s", n, units[u]);
	return buf;
}

static void draw(struct progress *p)
{
	char line[200], b[32], t[32], r[32];
	double el = progress_elapsed(p);
	double rate = el > 0 ? (double)p->bytes / el : 0;
	int n = snprintf(line, sizeof(line), "\r%s: %s", p->label,
			 progress_bytes(b, sizeof(b), (double)p->bytes));
	if (p->total_bytes)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " of %s",
			      progress_bytes(t, sizeof(t), (double)p->total_bytes));
	n += snprintf(line + n, sizeof(line) - (size_t)n, ", %llu files, %s/s",
		      (unsigned long long)p->files, progress_bytes(r, sizeof(r), rate));
	if (p->total_bytes && rate > 0 && p->bytes < p->total_bytes) {
		unsigned long eta = (unsigned long)((double)(p->total_bytes - p->bytes) / rate);
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", ETA %lu:%02lu:%02lu",
			      eta / 3600, eta / 60 % 60, eta % 60);
	}
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\033[K");
	if (n > 0 && (size_t)n < sizeof(line)) {
		ssize_t w = write(p->fd, line, (size_t)n);
		(void)w;
		p->drawn = 1;
	}
}

void progress_add(struct progress *p, uint64_t bytes, uint64_t files)
{
	if (!p)
		return;
	p->bytes += bytes;
	p->files += files;
	if (!p->draw && !p->hook)
		return;
	uint64_t t = now_ns();
	if (t - p->last_ns < (uint64_t)PROGRESS_INTERVAL_MS * 1000000u)
		return;
	p->last_ns = t;
	if (p->draw)
		draw(p);
	if (p->hook)
		p->hook(p->hook_ctx, p, 0);
}

void progress_done(struct progress *p)
{
	if (!p)
		return;
	if (p->drawn) {
		ssize_t w = write(p->fd, "\r\033[K", 4);
		(void)w;
		p->drawn = 0;
	}
	if (p->hook)
		p->hook(p->hook_ctx, p, 1);
}

int progress_json(const struct progress *p, int final, char *buf, size_t cap)
{
	double el = progress_elapsed(p);
	double rate = el > 0 ? (double)p->bytes / el : 0;
	char eta[32] = "null";
	if (p->total_bytes && rate > 0 && p->bytes <= p->total_bytes)
		snprintf(eta, sizeof(eta), "%.0f", (double)(p->total_bytes - p->bytes) / rate);
	int n = snprintf(buf, cap,
			 "{\"event\":\"progress\",\"step\":\"%s\",\"bytes\":%llu,\"files\":%llu,"
			 "\"total\":%llu,\"elapsed\":%.3f,\"rate\":%.0f,\"eta\":%s,\"final\":%s}",
			 p->label, (unsigned long long)p->bytes, (unsigned long long)p->files,
			 (unsigned long long)p->total_bytes, el, rate, eta,
			 final ? "true" : "false");
	if (n < 0 || (size_t)n >= cap)
		return err_set("progress: JSON line does not fit in %zu bytes", cap);
	return n;
}
