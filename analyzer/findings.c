/*
 * findings.c - names, ranks, meanings and fixes of the finding ids,
 * generated from the FINDINGS table (findings.h).
 */
#include "findings.h"

#define F_NAME_(e, id, rank, meaning, fix) [e] = id,
static const char *const names[] = { FINDINGS(F_NAME_) };
#undef F_NAME_
#define F_RANK_(e, id, rank, meaning, fix) [e] = rank,
static const int ranks[] = { FINDINGS(F_RANK_) };
#undef F_RANK_
#define F_MEANING_(e, id, rank, meaning, fix) [e] = meaning,
static const char *const meanings[] = { FINDINGS(F_MEANING_) };
#undef F_MEANING_
#define F_FIX_(e, id, rank, meaning, fix) [e] = fix,
static const char *const fixes[] = { FINDINGS(F_FIX_) };
#undef F_FIX_

const char *finding_name(enum finding_id id)
{
    return (unsigned)id < F_COUNT ? names[id] : "?";
}

int finding_rank(enum finding_id id)
{
    return (unsigned)id < F_COUNT ? ranks[id] : 99;
}

const char *finding_meaning(enum finding_id id)
{
    return (unsigned)id < F_COUNT ? meanings[id] : "";
}

const char *finding_fix(enum finding_id id)
{
    return (unsigned)id < F_COUNT ? fixes[id] : "";
}
