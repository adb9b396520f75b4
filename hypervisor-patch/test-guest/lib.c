// SPDX-License-Identifier: MIT
/*
 * The little of a C library the test guest needs: memory and string helpers (gcc may call the
 * mem* ones itself, even freestanding), a printf subset, 64-bit division (a 32-bit build would
 * otherwise need libgcc), number parsing and a median.
 */
#include "guest.h"

void *memcpy(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;

	if (d < s)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	u8 *d = dst;

	while (n--)
		*d++ = (u8)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* Restoring shift-and-subtract: only a handful of divisions per run, speed does not matter. */
u64 udiv64(u64 n, u64 d)
{
	u64 q = 0, r = 0;
	int i;

	if (!d)
		return ~0ull;
	for (i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << i;
		}
	}
	return q;
}

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, u64 v, u32 base, int width, char pad)
{
	char digits[24];
	int n = 0;

	do {
		u64 q = udiv64(v, base);

		digits[n++] = "0123456789abcdef"[v - q * base];
		v = q;
	} while (v);
	while (width-- > n)
		put(o, pad);
	while (n)
		put(o, digits[--n]);
}

/* %s %c %d %u %x with an optional zero-padded width, and the ll forms of d, u and x. */
int vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		int width = 0, longlong = 0;
		char pad = ' ';
		u64 v;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longlong++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			for (s = s ? s : "(null)"; *s; s++)
				put(&o, *s);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			long long sv = longlong >= 2 ? va_arg(ap, long long) : va_arg(ap, int);

			if (sv < 0)
				put(&o, '-');
			put_num(&o, sv < 0 ? -(u64)sv : (u64)sv, 10, width, pad);
			break;
		}
		case 'u':
		case 'x':
			v = longlong >= 2 ? va_arg(ap, u64) : va_arg(ap, u32);
			put_num(&o, v, *fmt == 'u' ? 10 : 16, width, pad);
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			/* Unknown conversions print as themselves: a format bug shows. */
			put(&o, '%');
			put(&o, *fmt);
			if (!*fmt)
				fmt--;
			break;
		}
	}
	if (o.size)
		o.buf[o.len < o.size ? o.len : o.size - 1] = '\0';
	return (int)o.len;
}

int format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void print(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	const char *p;

	va_start(ap, fmt);
	vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (p = line; *p; p++)
		outb(XEN_DEBUGCONS_IOPORT, (u8)*p);
}

bool parse_u32(const char **s, u32 *out)
{
	const char *p = *s;
	u32 base = 10, v = 0;
	bool any = false;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++) {
		u32 digit;

		if (*p >= '0' && *p <= '9')
			digit = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			digit = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			digit = *p - 'A' + 10;
		else
			break;
		v = v * base + digit;
		any = true;
	}
	if (!any)
		return false;
	*s = p;
	*out = v;
	return true;
}

/* Shell sort: a few thousand samples, no recursion, no allocation. */
u32 median_u32(u32 *a, u32 n)
{
	static const u32 gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
	u32 g, i, j;

	if (!n)
		return 0;
	for (g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		u32 gap = gaps[g];

		for (i = gap; i < n; i++) {
			u32 v = a[i];

			for (j = i; j >= gap && a[j - gap] > v; j -= gap)
				a[j] = a[j - gap];
			a[j] = v;
		}
	}
	return a[(n - 1) / 2];
}
