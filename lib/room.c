#include "room.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <uthash.h>

struct sio_room {
	char *name;
	struct sio_membership *members;	/* uthash keyed by member pointer */
	size_t n;
	UT_hash_handle hh;
};

/* One member in one room: in the room's table and the member's list. */
struct sio_membership {
	struct sio_roomset *m;
	struct sio_room *room;
	struct sio_membership *next;	/* the member's next room */
	UT_hash_handle hh;
};

struct sio_rooms {
	struct sio_room *rooms;
	struct sio_roomset *all;
	size_t nall;
	uint64_t epoch;
};

struct sio_rooms *
sio_rooms_new(void)
{
	return sio_xcalloc(1, sizeof(struct sio_rooms));
}

void
sio_rooms_free(struct sio_rooms *r)
{
	if (!r)
		return;
	while (r->all)
		sio_rooms_remove(r, r->all);
	free(r);
}

void
sio_rooms_add(struct sio_rooms *r, struct sio_roomset *m, void *owner)
{
	memset(m, 0, sizeof *m);
	m->owner = owner;
	m->next = r->all;
	if (r->all)
		r->all->prev = m;
	r->all = m;
	r->nall++;
}

static void
drop_membership(struct sio_rooms *r, struct sio_membership *ms)
{
	struct sio_room *room = ms->room;
	HASH_DEL(room->members, ms);
	free(ms);
	if (--room->n == 0) {
		HASH_DEL(r->rooms, room);
		free(room->name);
		free(room);
	}
}

void
sio_rooms_remove(struct sio_rooms *r, struct sio_roomset *m)
{
	while (m->head) {
		struct sio_membership *ms = m->head;
		m->head = ms->next;
		drop_membership(r, ms);
	}
	if (m->prev)
		m->prev->next = m->next;
	else
		r->all = m->next;
	if (m->next)
		m->next->prev = m->prev;
	m->prev = m->next = NULL;
	r->nall--;
}

bool
sio_rooms_has(const struct sio_roomset *m, const char *room)
{
	for (struct sio_membership *ms = m->head; ms; ms = ms->next)
		if (strcmp(ms->room->name, room) == 0)
			return true;
	return false;
}

bool
sio_rooms_join(struct sio_rooms *r, struct sio_roomset *m, const char *name)
{
	struct sio_room *room;
	struct sio_membership *ms;

	HASH_FIND_STR(r->rooms, name, room);
	if (!room) {
		room = sio_xcalloc(1, sizeof *room);
		room->name = sio_xstrdup(name);
		HASH_ADD_KEYPTR(hh, r->rooms, room->name, strlen(room->name), room);
	} else {
		HASH_FIND_PTR(room->members, &m, ms);
		if (ms)
			return false;
	}
	ms = sio_xcalloc(1, sizeof *ms);
	ms->m = m;
	ms->room = room;
	ms->next = m->head;
	m->head = ms;
	HASH_ADD_PTR(room->members, m, ms);
	room->n++;
	return true;
}

bool
sio_rooms_leave(struct sio_rooms *r, struct sio_roomset *m, const char *name)
{
	for (struct sio_membership **pp = &m->head; *pp; pp = &(*pp)->next) {
		struct sio_membership *ms = *pp;
		if (strcmp(ms->room->name, name) == 0) {
			*pp = ms->next;
			drop_membership(r, ms);
			return true;
		}
	}
	return false;
}

size_t
sio_rooms_size(const struct sio_rooms *r, const char *name)
{
	struct sio_room *room;
	HASH_FIND_STR(r->rooms, name, room);
	return room ? room->n : 0;
}

size_t
sio_rooms_count(const struct sio_rooms *r)
{
	return HASH_COUNT(r->rooms);
}

size_t
sio_rooms_members(const struct sio_rooms *r)
{
	return r->nall;
}

size_t
sio_rooms_each(struct sio_rooms *r, const char *const *rooms, size_t nrooms,
    const char *const *except, size_t nexcept, void (*fn)(void *owner, void *arg),
    void *arg)
{
	uint64_t e = ++r->epoch;
	struct sio_room *room;
	struct sio_membership *ms, *tmp;
	size_t calls = 0;

	/* Mark the excluded first: a marked member counts as already reached. */
	for (size_t i = 0; i < nexcept; i++) {
		HASH_FIND_STR(r->rooms, except[i], room);
		if (!room)
			continue;
		HASH_ITER(hh, room->members, ms, tmp)
			ms->m->mark = e;
	}
	if (nrooms == 0) {
		struct sio_roomset *next;
		for (struct sio_roomset *m = r->all; m; m = next) {
			next = m->next;
			if (m->mark == e)
				continue;
			m->mark = e;
			fn(m->owner, arg);
			calls++;
		}
		return calls;
	}
	for (size_t i = 0; i < nrooms; i++) {
		HASH_FIND_STR(r->rooms, rooms[i], room);
		if (!room)
			continue;
		HASH_ITER(hh, room->members, ms, tmp) {
			if (ms->m->mark == e)
				continue;
			ms->m->mark = e;
			fn(ms->m->owner, arg);
			calls++;
		}
	}
	return calls;
}

void
sio_rooms_each_room(const struct sio_rooms *r,
    void (*fn)(const char *room, size_t members, void *arg), void *arg)
{
	struct sio_room *room, *tmp;
	HASH_ITER(hh, r->rooms, room, tmp)
		fn(room->name, room->n, arg);
}

void
sio_roomset_each(const struct sio_roomset *m,
    void (*fn)(const char *room, void *arg), void *arg)
{
	for (struct sio_membership *ms = m->head; ms; ms = ms->next)
		fn(ms->room->name, arg);
}
