#include "room.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

/* A socket-like owner with its roomset embedded, as the hub does it. */
struct sock {
	int id;
	int calls;		/* times sio_rooms_each reached it */
	struct sio_roomset rs;
};

static void
count_cb(void *owner, void *arg)
{
	struct sock *s = owner;
	(void)arg;
	s->calls++;
}

/* Runs sio_rooms_each and renders the reached ids as a sorted "a,b,c". */
static const char *
each_ids(struct sio_rooms *r, struct sock *socks, size_t nsocks,
    const char *const *rooms, size_t nrooms, const char *const *except,
    size_t nexcept, size_t *ret, int *dups)
{
	static char out[512];
	size_t o = 0;

	for (size_t i = 0; i < nsocks; i++)
		socks[i].calls = 0;
	*ret = sio_rooms_each(r, rooms, nrooms, except, nexcept, count_cb,
	    NULL);
	*dups = 0;
	out[0] = '\0';
	for (size_t i = 0; i < nsocks; i++) {
		if (socks[i].calls > 1)
			(*dups)++;
		if (socks[i].calls)
			o += (size_t)snprintf(out + o, sizeof out - o, "%s%d",
			    o ? "," : "", socks[i].id);
	}
	return out;
}

static void
arg_cb(void *owner, void *arg)
{
	int *hits = arg;
	(void)owner;
	(*hits)++;
}

struct room_list {
	char names[32][16];
	size_t sizes[32];
	size_t n;
};

static void
room_cb(const char *room, size_t members, void *arg)
{
	struct room_list *l = arg;
	if (l->n < 32) {
		snprintf(l->names[l->n], sizeof l->names[0], "%s", room);
		l->sizes[l->n] = members;
	}
	l->n++;
}

/* Size of room name as listed by sio_rooms_each_room, or -1. */
static long
listed(const struct sio_rooms *r, const char *name)
{
	struct room_list l;
	l.n = 0;
	sio_rooms_each_room(r, room_cb, &l);
	for (size_t i = 0; i < l.n && i < 32; i++)
		if (strcmp(l.names[i], name) == 0)
			return (long)l.sizes[i];
	return -1;
}

static size_t
nlisted(const struct sio_rooms *r)
{
	struct room_list l;
	l.n = 0;
	sio_rooms_each_room(r, room_cb, &l);
	return l.n;
}

static void
set_cb(const char *room, void *arg)
{
	struct room_list *l = arg;
	room_cb(room, 0, l);
}

static size_t
nroomsof(const struct sio_roomset *m)
{
	struct room_list l;
	l.n = 0;
	sio_roomset_each(m, set_cb, &l);
	return l.n;
}

static void
test_basic(void)
{
	struct sio_rooms *r = sio_rooms_new();
	struct sock s[3];
	char name[16];

	T_OK(r != NULL, "new registry");
	T_EQ_INT(sio_rooms_members(r), 0, "no members");
	T_EQ_INT(nlisted(r), 0, "no rooms");
	for (int i = 0; i < 3; i++) {
		s[i].id = i;
		s[i].rs.mark = 12345;	/* add must reset it */
		sio_rooms_add(r, &s[i].rs, &s[i]);
		T_OK(s[i].rs.owner == &s[i], "owner set");
		T_OK(s[i].rs.head == NULL, "in no room yet");
	}
	T_EQ_INT(sio_rooms_members(r), 3, "three members");

	T_OK(sio_rooms_join(r, &s[0].rs, "a"), "0 joins a");
	T_OK(!sio_rooms_join(r, &s[0].rs, "a"), "0 joins a again: false");
	T_EQ_INT(sio_rooms_size(r, "a"), 1, "a has 1");
	T_OK(sio_rooms_join(r, &s[1].rs, "a"), "1 joins a");
	T_OK(sio_rooms_join(r, &s[1].rs, "b"), "1 joins b");
	T_OK(!sio_rooms_join(r, &s[1].rs, "b"), "1 joins b again: false");
	T_EQ_INT(sio_rooms_size(r, "a"), 2, "a has 2");
	T_EQ_INT(sio_rooms_size(r, "b"), 1, "b has 1");
	T_EQ_INT(sio_rooms_size(r, "c"), 0, "no room c");
	T_EQ_INT(sio_rooms_size(r, ""), 0, "no room \"\"");
	T_OK(sio_rooms_has(&s[0].rs, "a"), "0 has a");
	T_OK(!sio_rooms_has(&s[0].rs, "b"), "0 not in b");
	T_OK(sio_rooms_has(&s[1].rs, "a") && sio_rooms_has(&s[1].rs, "b"),
	    "1 has a and b");
	T_OK(!sio_rooms_has(&s[2].rs, "a"), "2 in nothing");
	T_OK(!sio_rooms_has(&s[0].rs, "A"), "names are case-sensitive");
	T_OK(!sio_rooms_has(&s[0].rs, "aa") && !sio_rooms_has(&s[0].rs, ""),
	    "no prefix matches");
	T_EQ_INT(nroomsof(&s[1].rs), 2, "roomset_each lists 1's two rooms");
	T_EQ_INT(nroomsof(&s[2].rs), 0, "roomset_each lists none for 2");
	T_EQ_INT(nlisted(r), 2, "two rooms listed");
	T_EQ_INT(listed(r, "a"), 2, "a listed with 2");
	T_EQ_INT(listed(r, "b"), 1, "b listed with 1");
	T_EQ_INT(sio_rooms_members(r), 3, "joins do not add members");

	/* Names are copied. */
	snprintf(name, sizeof name, "tmp");
	T_OK(sio_rooms_join(r, &s[2].rs, name), "2 joins tmp (stack name)");
	snprintf(name, sizeof name, "xyz");
	T_OK(sio_rooms_has(&s[2].rs, "tmp"), "name copied: has tmp");
	T_EQ_INT(sio_rooms_size(r, "tmp"), 1, "name copied: size");
	T_EQ_INT(sio_rooms_size(r, "xyz"), 0, "name copied: not aliased");

	/* Unusual names. */
	T_OK(sio_rooms_join(r, &s[2].rs, ""), "empty room name");
	T_EQ_INT(sio_rooms_size(r, ""), 1, "empty room size");
	T_OK(sio_rooms_has(&s[2].rs, ""), "has empty room");
	T_OK(sio_rooms_leave(r, &s[2].rs, ""), "leave empty room");

	/* Leave. */
	T_OK(!sio_rooms_leave(r, &s[0].rs, "b"), "0 leaves b: not in it");
	T_OK(!sio_rooms_leave(r, &s[0].rs, "nope"), "leave unknown room");
	T_EQ_INT(sio_rooms_size(r, "b"), 1, "b unchanged");
	T_OK(sio_rooms_leave(r, &s[1].rs, "b"), "1 leaves b");
	T_OK(!sio_rooms_leave(r, &s[1].rs, "b"), "1 leaves b again: false");
	T_EQ_INT(sio_rooms_size(r, "b"), 0, "b empty");
	T_EQ_INT(listed(r, "b"), -1, "empty room b disappears");
	T_OK(!sio_rooms_has(&s[1].rs, "b"), "1 no longer has b");
	T_OK(sio_rooms_has(&s[1].rs, "a"), "1 still has a");
	T_OK(sio_rooms_join(r, &s[1].rs, "b"), "rejoin recreates b");
	T_EQ_INT(listed(r, "b"), 1, "b back with 1");
	T_OK(sio_rooms_leave(r, &s[0].rs, "a"), "0 leaves a");
	T_EQ_INT(sio_rooms_size(r, "a"), 1, "a has 1 left");
	T_OK(sio_rooms_join(r, &s[0].rs, "a"), "0 rejoins a");
	T_EQ_INT(sio_rooms_size(r, "a"), 2, "a has 2 again");

	/* Remove leaves every room. */
	T_OK(sio_rooms_join(r, &s[1].rs, "c"), "1 joins c");
	sio_rooms_remove(r, &s[1].rs);
	T_EQ_INT(sio_rooms_members(r), 2, "two members after remove");
	T_EQ_INT(sio_rooms_size(r, "a"), 1, "a lost 1");
	T_EQ_INT(sio_rooms_size(r, "b"), 0, "b gone");
	T_EQ_INT(sio_rooms_size(r, "c"), 0, "c gone");
	T_EQ_INT(listed(r, "b"), -1, "b not listed");
	T_EQ_INT(listed(r, "c"), -1, "c not listed");
	T_OK(s[1].rs.head == NULL, "removed member has no rooms");
	size_t ret;
	int dups;
	T_EQ_STR(each_ids(r, s, 3, NULL, 0, NULL, 0, &ret, &dups), "0,2",
	    "removed member not reached by each");

	/* A removed member can come back. */
	sio_rooms_add(r, &s[1].rs, &s[1]);
	T_EQ_INT(sio_rooms_members(r), 3, "re-added");
	T_OK(!sio_rooms_has(&s[1].rs, "a"), "re-added member in no room");
	T_EQ_STR(each_ids(r, s, 3, NULL, 0, NULL, 0, &ret, &dups), "0,1,2",
	    "re-added member reached");

	/* Remove the head, middle and tail of the member list. */
	sio_rooms_remove(r, &s[1].rs);
	sio_rooms_remove(r, &s[0].rs);
	T_EQ_STR(each_ids(r, s, 3, NULL, 0, NULL, 0, &ret, &dups), "2",
	    "only 2 left");
	sio_rooms_remove(r, &s[2].rs);
	T_EQ_INT(sio_rooms_members(r), 0, "all removed");
	T_EQ_INT(nlisted(r), 0, "no rooms left");
	T_EQ_STR(each_ids(r, s, 3, NULL, 0, NULL, 0, &ret, &dups), "",
	    "each on empty registry");
	T_EQ_INT(ret, 0, "each returns 0");
	sio_rooms_free(r);
	sio_rooms_free(NULL);
	T_OK(1, "free NULL is a no-op");
}

static void
test_each(void)
{
	struct sio_rooms *r = sio_rooms_new();
	struct sock s[6];
	size_t ret;
	int dups;
	/*
	 * a: 0 1 2    b: 2 3    c: 4    d: 0 4    5 in no room
	 */
	static const char *const joins[][2] = {
		{ "0", "a" }, { "1", "a" }, { "2", "a" }, { "2", "b" },
		{ "3", "b" }, { "4", "c" }, { "0", "d" }, { "4", "d" },
	};
	static const struct {
		const char *rooms[4];
		size_t nrooms;
		const char *except[4];
		size_t nexcept;
		const char *want;
	} cases[] = {
		{ { NULL }, 0, { NULL }, 0, "0,1,2,3,4,5" },
		{ { "a" }, 1, { NULL }, 0, "0,1,2" },
		{ { "b" }, 1, { NULL }, 0, "2,3" },
		{ { "a", "b" }, 2, { NULL }, 0, "0,1,2,3" },
		{ { "b", "a" }, 2, { NULL }, 0, "0,1,2,3" },
		{ { "a", "a" }, 2, { NULL }, 0, "0,1,2" },
		{ { "a", "d" }, 2, { NULL }, 0, "0,1,2,4" },
		{ { "a", "b", "c", "d" }, 4, { NULL }, 0, "0,1,2,3,4" },
		{ { "nope" }, 1, { NULL }, 0, "" },
		{ { "nope", "c" }, 2, { NULL }, 0, "4" },
		{ { "" }, 1, { NULL }, 0, "" },
		{ { "a" }, 1, { "b" }, 1, "0,1" },
		{ { "a", "b" }, 2, { "b" }, 1, "0,1" },
		{ { "a" }, 1, { "a" }, 1, "" },
		{ { "a" }, 1, { "d" }, 1, "1,2" },
		{ { "a" }, 1, { "b", "d" }, 2, "1" },
		{ { "a" }, 1, { "nope" }, 1, "0,1,2" },
		{ { "a" }, 1, { "nope", "c" }, 2, "0,1,2" },
		{ { "a", "b" }, 2, { "c", "nope" }, 2, "0,1,2,3" },
		{ { "d" }, 1, { "c" }, 1, "0" },
		{ { NULL }, 0, { "a" }, 1, "3,4,5" },
		{ { NULL }, 0, { "a", "c" }, 2, "3,5" },
		{ { NULL }, 0, { "a", "b", "c", "d" }, 4, "5" },
		{ { NULL }, 0, { "nope" }, 1, "0,1,2,3,4,5" },
		{ { NULL }, 0, { "a", "a" }, 2, "3,4,5" },
		{ { "nope" }, 1, { "a" }, 1, "" },
	};
	char what[200];

	for (int i = 0; i < 6; i++) {
		s[i].id = i;
		sio_rooms_add(r, &s[i].rs, &s[i]);
	}
	for (size_t i = 0; i < sizeof joins / sizeof joins[0]; i++)
		sio_rooms_join(r, &s[joins[i][0][0] - '0'].rs, joins[i][1]);
	T_EQ_INT(sio_rooms_size(r, "a"), 3, "setup a");
	T_EQ_INT(sio_rooms_size(r, "d"), 2, "setup d");

	/* Twice over: the second pass runs on later epochs. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			const char *got = each_ids(r, s, 6, cases[i].rooms,
			    cases[i].nrooms, cases[i].except,
			    cases[i].nexcept, &ret, &dups);
			snprintf(what, sizeof what,
			    "pass %d each case %zu -> {%s}", pass, i,
			    cases[i].want);
			T_EQ_STR(got, cases[i].want, what);
			size_t want = 0;
			if (cases[i].want[0] != '\0') {
				want = 1;
				for (const char *p = cases[i].want; *p; p++)
					want += *p == ',';
			}
			T_EQ_INT(ret, want, "return value counts the calls");
			T_EQ_INT(dups, 0, "each member at most once");
		}
	}

	/* The callback gets arg through. */
	int hits = 0;
	const char *const ra[] = { "d" };
	T_EQ_INT(sio_rooms_each(r, ra, 1, NULL, 0, arg_cb, &hits), 2,
	    "each with arg");
	T_EQ_INT(hits, 2, "arg reached the callback");

	/* Marks left on members by one call do not leak into the next. */
	const char *const rb[] = { "b" };
	const char *const ea[] = { "a" };
	T_EQ_STR(each_ids(r, s, 6, rb, 1, ea, 1, &ret, &dups), "3",
	    "b except a");
	T_EQ_STR(each_ids(r, s, 6, ea, 1, NULL, 0, &ret, &dups), "0,1,2",
	    "then a: previously excluded reached");
	T_EQ_STR(each_ids(r, s, 6, NULL, 0, NULL, 0, &ret, &dups),
	    "0,1,2,3,4,5", "then all");

	/* Membership changes between calls. */
	sio_rooms_leave(r, &s[2].rs, "a");
	T_EQ_STR(each_ids(r, s, 6, ea, 1, NULL, 0, &ret, &dups), "0,1",
	    "a after 2 left");
	T_EQ_STR(each_ids(r, s, 6, rb, 1, ea, 1, &ret, &dups), "2,3",
	    "b except a after 2 left a");
	sio_rooms_join(r, &s[5].rs, "a");
	T_EQ_STR(each_ids(r, s, 6, ea, 1, NULL, 0, &ret, &dups), "0,1,5",
	    "a after 5 joined");

	for (int i = 0; i < 6; i++)
		sio_rooms_remove(r, &s[i].rs);
	T_EQ_INT(nlisted(r), 0, "no rooms after removing all");
	sio_rooms_free(r);
}

/* Freeing the registry with members still in it removes them. */
static void
test_free_with_members(void)
{
	struct sio_rooms *r = sio_rooms_new();
	struct sock s[4];

	for (int i = 0; i < 4; i++) {
		s[i].id = i;
		sio_rooms_add(r, &s[i].rs, &s[i]);
		sio_rooms_join(r, &s[i].rs, "all");
		sio_rooms_join(r, &s[i].rs, i % 2 ? "odd" : "even");
	}
	sio_rooms_free(r);
	T_OK(s[0].rs.head == NULL && s[3].rs.head == NULL,
	    "free leaves every room");
}

/* ---- randomized check against brute force ----------------------------- */

#define NMEM 200
#define NROOM 20
#define NQUERY 500

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: deterministic across runs and platforms */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 33) % n;
}

static char rnames[NROOM + 5][16];	/* the last 5 are never joined */

static void
test_random(void)
{
	static struct sock s[NMEM];
	static bool in[NMEM][NROOM];
	static bool present[NMEM];
	struct sio_rooms *r = sio_rooms_new();
	const char *rooms[6], *except[6];
	int ridx[6], eidx[6];
	size_t bad_calls = 0, bad_ret = 0, bad_size = 0, bad_has = 0;
	size_t bad_join = 0, total = 0;

	for (int k = 0; k < NROOM + 5; k++)
		snprintf(rnames[k], sizeof rnames[k], "r%d", k);
	for (int i = 0; i < NMEM; i++) {
		s[i].id = i;
		sio_rooms_add(r, &s[i].rs, &s[i]);
		present[i] = true;
		for (int k = 0; k < NROOM; k++) {
			/* sparse rooms and dense ones */
			in[i][k] = rnd(100) < (uint32_t)(k < 5 ? 50 : 8);
			if (in[i][k] && !sio_rooms_join(r, &s[i].rs,
			    rnames[k]))
				bad_join++;
		}
	}
	T_EQ_INT(bad_join, 0, "random joins all new");
	T_EQ_INT(sio_rooms_members(r), NMEM, "random members");

	for (int q = 0; q < NQUERY; q++) {
		/* Now and then change memberships between queries. */
		if (q % 10 == 9) {
			for (int c = 0; c < 20; c++) {
				int i = (int)rnd(NMEM), k = (int)rnd(NROOM);
				if (!present[i])
					continue;
				bool was = in[i][k];
				bool rv = was ?
				    sio_rooms_leave(r, &s[i].rs, rnames[k]) :
				    sio_rooms_join(r, &s[i].rs, rnames[k]);
				if (!rv)
					bad_join++;
				in[i][k] = !was;
			}
		}
		if (q % 50 == 49) {
			int i = (int)rnd(NMEM);
			if (present[i]) {
				sio_rooms_remove(r, &s[i].rs);
				present[i] = false;
				for (int k = 0; k < NROOM; k++)
					in[i][k] = false;
			} else {
				sio_rooms_add(r, &s[i].rs, &s[i]);
				present[i] = true;
			}
		}

		size_t nrooms = rnd(4) == 0 ? 0 : 1 + rnd(5);
		size_t nexcept = rnd(3) == 0 ? 0 : rnd(4);
		for (size_t j = 0; j < nrooms; j++) {
			ridx[j] = (int)rnd(NROOM + 5);
			rooms[j] = rnames[ridx[j]];
		}
		for (size_t j = 0; j < nexcept; j++) {
			eidx[j] = (int)rnd(NROOM + 5);
			except[j] = rnames[eidx[j]];
		}

		for (int i = 0; i < NMEM; i++)
			s[i].calls = 0;
		size_t ret = sio_rooms_each(r, rooms, nrooms, except, nexcept,
		    count_cb, NULL);
		size_t want_n = 0;
		for (int i = 0; i < NMEM; i++) {
			bool want = false;
			if (present[i]) {
				want = nrooms == 0;
				for (size_t j = 0; j < nrooms; j++)
					if (ridx[j] < NROOM && in[i][ridx[j]])
						want = true;
				for (size_t j = 0; j < nexcept; j++)
					if (eidx[j] < NROOM && in[i][eidx[j]])
						want = false;
			}
			want_n += want;
			if (s[i].calls != (want ? 1 : 0))
				bad_calls++;
		}
		if (ret != want_n)
			bad_ret++;
		total += want_n;

		/* Sizes and has() agree with the model too. */
		int k = (int)rnd(NROOM);
		size_t sz = 0;
		for (int i = 0; i < NMEM; i++)
			sz += in[i][k];
		if (sio_rooms_size(r, rnames[k]) != sz)
			bad_size++;
		int i = (int)rnd(NMEM);
		if (present[i] && sio_rooms_has(&s[i].rs, rnames[k]) !=
		    in[i][k])
			bad_has++;
	}
	T_EQ_INT(bad_join, 0, "random join/leave return values");
	T_EQ_INT(bad_calls, 0, "random queries: members reached exactly once");
	T_EQ_INT(bad_ret, 0, "random queries: return value");
	T_EQ_INT(bad_size, 0, "random queries: room sizes");
	T_EQ_INT(bad_has, 0, "random queries: has");
	T_OK(total > 1000, "random queries reached a fair number of members");

	size_t nonempty = 0;
	for (int k = 0; k < NROOM; k++) {
		size_t sz = 0;
		for (int i = 0; i < NMEM; i++)
			sz += in[i][k];
		nonempty += sz > 0;
	}
	T_EQ_INT(nlisted(r), nonempty, "random: listed rooms are the non-empty");

	for (int i = 0; i < NMEM; i++)
		if (present[i])
			sio_rooms_remove(r, &s[i].rs);
	T_EQ_INT(sio_rooms_members(r), 0, "random: all removed");
	T_EQ_INT(nlisted(r), 0, "random: no rooms left");
	sio_rooms_free(r);
}

int
main(void)
{
	test_basic();
	test_each();
	test_free_with_members();
	test_random();
	T_DONE();
}
