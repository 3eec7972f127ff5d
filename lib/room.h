/*
 * room: the rooms registry of one namespace (the adapter): room -> members
 * and member -> rooms, and the iteration a broadcast needs: every member
 * of a union of rooms, minus the members of other rooms, each once, in
 * O(members) and without allocation.
 *
 * A member is a struct sio_roomset embedded in its owner (a socket); the
 * registry never owns it. Room names are copied.
 */
#ifndef SIO_ROOM_H
#define SIO_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sio_membership;
struct sio_rooms;

struct sio_roomset {
	void *owner;
	struct sio_membership *head;	/* this member's rooms */
	uint64_t mark;			/* last broadcast that reached it */
	struct sio_roomset *prev, *next; /* every member of the registry */
};

struct sio_rooms *sio_rooms_new(void);
/* Frees the registry; members must have been removed. */
void sio_rooms_free(struct sio_rooms *r);

/* Adds a member to the registry (in no room yet). */
void sio_rooms_add(struct sio_rooms *r, struct sio_roomset *m, void *owner);
/* Leaves every room and removes the member. */
void sio_rooms_remove(struct sio_rooms *r, struct sio_roomset *m);

/* Returns true when the member was not in the room before. */
bool sio_rooms_join(struct sio_rooms *r, struct sio_roomset *m, const char *room);
/* Returns true when the member was in the room. */
bool sio_rooms_leave(struct sio_rooms *r, struct sio_roomset *m, const char *room);
bool sio_rooms_has(const struct sio_roomset *m, const char *room);

/* Members in a room (0 when there is no such room). */
size_t sio_rooms_size(const struct sio_rooms *r, const char *room);
/* Rooms with at least one member. */
size_t sio_rooms_count(const struct sio_rooms *r);
/* Members of the registry. */
size_t sio_rooms_members(const struct sio_rooms *r);

/*
 * Calls fn(owner, arg) for every member in any of rooms[0..nrooms) (every
 * member when nrooms is 0) and in none of except[0..nexcept), once each.
 * fn must not join, leave or remove members. Returns how many were called.
 */
size_t sio_rooms_each(struct sio_rooms *r, const char *const *rooms, size_t nrooms,
    const char *const *except, size_t nexcept, void (*fn)(void *owner, void *arg),
    void *arg);

/* Calls fn for each room: its name and member count. */
void sio_rooms_each_room(const struct sio_rooms *r,
    void (*fn)(const char *room, size_t members, void *arg), void *arg);
/* Calls fn for each room the member is in. */
void sio_roomset_each(const struct sio_roomset *m,
    void (*fn)(const char *room, void *arg), void *arg);

#endif
