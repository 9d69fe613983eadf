/*
 * hash.h - the 128-bit hash that names interned stacks and strings.
 *
 * Four independent multiply-fold lanes over 8-byte words (so the CPU runs
 * them in parallel), each word mixed with a distinct odd constant through a
 * full 64x64->128 multiply, then a two-output avalanche. 128 bits make an
 * accidental collision among even billions of distinct stacks negligible,
 * which is why the intern tables keep only the hash, not the frames.
 *
 * struct obt_hstream is a hash fed one word at a time, for the
 * frame-pointer walk to hash the frames as it finds them: two lanes, each
 * taking every word through its own multiply-rotate round. Its chain costs
 * about one 64-bit multiply per frame, which overlaps the walk's own chain
 * of dependent loads, so the hash comes almost free. It gives different keys than
 * obt_hash_words for the same words (use one or the other per key space).
 */
#ifndef OBTRACE_HASH_H
#define OBTRACE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct obt_key {
    uint64_t lo, hi;
};

static inline uint64_t obt_fold(uint64_t a, uint64_t b)
{
    __uint128_t m = (__uint128_t)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static inline uint64_t obt_mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

static inline struct obt_key obt_hash_words(const uint64_t *w, size_t n, uint64_t seed)
{
    static const uint64_t K[4] = { 0xa0761d6478bd642full, 0xe7037ed1a0b428dbull, 0x8ebc6af09c88c6e3ull,
                                   0x589965cc75374cc3ull };
    uint64_t l0 = seed ^ K[0], l1 = seed ^ K[1], l2 = ~seed ^ K[2], l3 = ~seed ^ K[3];
    size_t i = 0;
    struct obt_key k;

    for (size_t blocks = n / 4; blocks; blocks--, i += 4) {
        l0 = obt_fold(l0 ^ w[i], K[1] ^ (i * 2 + 1));
        l1 = obt_fold(l1 ^ w[i + 1], K[2] ^ (i * 2 + 3));
        l2 = obt_fold(l2 ^ w[i + 2], K[3] ^ (i * 2 + 5));
        l3 = obt_fold(l3 ^ w[i + 3], K[0] ^ (i * 2 + 7));
    }
    for (size_t rest = n & 3; rest; rest--, i++)
        l0 = obt_fold(l0 ^ w[i], K[(i + 1) & 3] ^ (i * 2 + 1));
    l0 = obt_fold(l0 ^ n, K[2]);
    k.lo = obt_mix64(l0 ^ obt_fold(l1, K[3]) ^ l2 ^ (l3 << 1));
    k.hi = obt_mix64(obt_fold(l0 + l2, K[0]) ^ obt_fold(l1 ^ l3, K[1]) ^ n);
    return k;
}

static inline struct obt_key obt_hash_bytes(const void *p, size_t len, uint64_t seed)
{
    uint64_t buf[64];
    const unsigned char *s = p;
    struct obt_key acc = { seed, len };

    /* Hash in blocks of up to 512 bytes, chaining the seed. */
    do {
        size_t take = len < sizeof(buf) ? len : sizeof(buf);
        size_t words = (take + 7) / 8;
        buf[words ? words - 1 : 0] = 0;
        memcpy(buf, s, take);
        struct obt_key k = obt_hash_words(buf, words, acc.lo ^ acc.hi ^ take);
        acc.lo ^= k.lo;
        acc.hi = obt_mix64(acc.hi ^ k.hi);
        s += take;
        len -= take;
    } while (len);
    return acc;
}

struct obt_hstream {
    uint64_t l0, l1;
};

static inline uint64_t obt_rotl64(uint64_t x, unsigned r)
{
    return x << r | x >> (64 - r);
}

static inline void obt_hstream_init(struct obt_hstream *h, uint64_t seed)
{
    h->l0 = seed ^ 0x2d358dccaa6c78a5ull;
    h->l1 = ~seed ^ 0x8bb84b93962eacc9ull;
}

/*
 * One round per lane: lane = rotl(lane + w * P, r) * Q. For a given word
 * each round is a bijection of the lane (nothing is lost), and its chain is
 * an add, a rotate and a 64-bit multiply: no 128-bit product, which the
 * compiler would spill through memory on every step.
 */
static inline void obt_hstream_add(struct obt_hstream *h, uint64_t w)
{
    h->l0 = obt_rotl64(h->l0 + w * 0xc2b2ae3d27d4eb4full, 31) * 0x9e3779b185ebca87ull;
    h->l1 = obt_rotl64(h->l1 + w * 0x165667b19e3779f9ull, 27) * 0xd6e8feb86659fd93ull;
}

/* The key of the n words added. */
static inline struct obt_key obt_hstream_key(const struct obt_hstream *h, uint64_t n)
{
    struct obt_key k;
    uint64_t a = obt_mix64(h->l0 ^ n), b = obt_mix64(h->l1 + n * 0x9e3779b97f4a7c15ull);
    k.lo = obt_mix64(a ^ obt_rotl64(b, 17));
    k.hi = obt_mix64(b ^ obt_rotl64(a, 41) ^ 0xa0761d6478bd642full);
    return k;
}

#endif /* OBTRACE_HASH_H */
