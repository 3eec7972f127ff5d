/*
 * files: static files under one directory, for GET and HEAD. A path never
 * leaves the directory (".." and symlinks out are refused), directories
 * give their index.html or 404, never a listing.
 */
#ifndef SIO_FILES_H
#define SIO_FILES_H

struct sio_conn;
struct sio_files;

/* NULL with a message in err when dir is not a readable directory. */
struct sio_files *sio_files_new(const char *dir, char *err);
void sio_files_free(struct sio_files *f);
/* Answers the connection's current request (200, 304-free, 404, 405). */
void sio_files_serve(struct sio_files *f, struct sio_conn *c);

#endif
