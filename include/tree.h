/* tree: the catalog's nodes, their inode numbers, and the merge of a
 * listing into a directory. Internal to the catalog (catalog.c holds the
 * lock; nothing here locks or blocks).
 *
 * A refresh merges a list of specs into a directory: children are matched to
 * existing nodes by identity (kind and provider id), so nodes, and with them
 * inode numbers, survive refreshes; an entry that leaves the listing is kept
 * for a while as "gone" so that it gets its inode back if it returns. Gone
 * nodes are bounded: per directory the TREE_GONE_MAX most recent departures
 * younger than the tree's gone_ttl are kept, older ones are evicted (with
 * their subtree) at the directory's next refresh: out of the index at once,
 * freed once the lock is dropped. Inode numbers are never reused,
 * and a freed node leaves the inode index: a lookup of its number finds
 * nothing, so holders of an old number get ENOENT, never freed memory.
 *
 * Everything is O(n log n) in the size of a listing: a hash index by inode,
 * a hash of the old children by identity per merge, sorting by name.
 *
 * Locking: none here. Every function must be called with the catalog's lock
 * held, and every struct below (struct tree, struct node, struct dir) is
 * guarded by that one lock, all fields alike.
 */
#ifndef UMONGOFS_TREE_H
#define UMONGOFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "catalog.h"
#include "spec.h"

#define TREE_GONE_MAX 1024 /* gone children kept per directory */

struct node;

/* A child that left its directory's listing, and when. */
struct gone {
    struct node *node;
    time_t since;
};

/* What only a directory has. */
struct dir {
    struct node **kids; /* live children, sorted by name */
    size_t n_kids;
    unsigned n_subdirs; /* kids that are directories (st_nlink) */
    struct gone *gone;  /* children that left the listing, oldest first */
    size_t n_gone;
    char *zone;           /* clusters: their Zone */
    bool sharded;         /* clusters: batch directories */
    bool listed;          /* holds a listing (maybe stale) */
    bool refreshing;      /* a listing is being fetched: one at a time */
    bool queued;          /* waiting for a background refresh worker */
    unsigned refresh_gen; /* counts finished refreshes */
    int refresh_err;      /* result of the last one */
    time_t listed_at;
};

struct node {
    uint64_t ino;
    struct node *parent;
    char *id;        /* the provider's id; with kind, the identity in parent */
    char *name;      /* display name */
    char *xattrs;    /* packed (spec.h), NULL = none */
    char *etag;      /* files: as the store said at the last open, NULL before */
    struct dir *dir; /* directories only */
    uint64_t size;
    int64_t mtime;
    uint8_t kind; /* enum cat_kind */
    bool gone;    /* left its listing; kept so the inode comes back with it */
    bool readable;
    bool size_verified;
    bool size_corrected; /* the store's length differed from the listing's */
    bool mark;           /* scratch, during a merge */
    bool changed;        /* a merge changed what stat shows, or it left: the catalog reports it */
};

struct tree {
    struct node *root;
    struct node **slot; /* index by inode: open addressing, linear probing */
    size_t mask;        /* slots - 1 */
    size_t n_nodes;     /* in the index */
    size_t n_gone;      /* in gone lists */
    uint64_t next_ino;
    time_t gone_ttl;      /* seconds a gone node is kept at most */
    struct node *evicted; /* gone nodes dropped from the tree, to free (linked by parent) */
};

bool tree_is_dir(enum cat_kind k);

/* 0 or -ENOMEM. */
int tree_init(struct tree *t, int64_t root_mtime, time_t gone_ttl);
void tree_free(struct tree *t);

/* The node with this inode number, or NULL (never was, or freed). */
struct node *tree_find(const struct tree *t, uint64_t ino);

/* dir's live child named name[0..len), or NULL. */
struct node *tree_child(const struct node *dir, const char *name, size_t len);

/* The cluster n is or belongs to, or NULL (root, regions). */
const struct node *tree_cluster_of(const struct node *n);

void tree_stat(const struct node *n, struct cat_stat *st);

/* Merges specs into dir (and the directories they fill: batch, oplog/,
 * logs/), taking the strings it keeps out of them; updates the times of dir
 * and its ancestors. The specs must have been through spec_name_all. On
 * -ENOMEM the entries that could not be made are left out; the tree stays
 * consistent. */
int tree_apply(struct tree *t, struct node *dir, struct spec *specs, size_t n, time_t now);

/* Gone nodes the merges dropped: out of the index and unreachable, their
 * memory still to be freed. Take them under the lock, free them after
 * (tree_free_evicted needs no lock). */
struct node *tree_take_evicted(struct tree *t);

/* What a merge changed, for the kernel's caches. tree_chain_stats stores
 * the stats of d and its ancestors (TREE_CHAIN_MAX at most) before the
 * merge; tree_report_merge then calls fn with the path of every node whose
 * stat the merge changed (flagged by it: a file's size, time or mode, an
 * entry that left; d or an ancestor whose time or link count moved) and
 * clears the flags. */
#define TREE_CHAIN_MAX 8 /* root, region, cluster, batch: the tree is no deeper */
typedef void (*tree_changed_fn)(void *ctx, const char *path);
size_t tree_chain_stats(const struct node *d, struct cat_stat *st);
void tree_report_merge(struct node *d, const struct cat_stat *before, size_t n_before,
                       tree_changed_fn fn, void *ctx);
void tree_free_evicted(struct node *list);

/* getxattr/listxattr of n (catalog.h). */
int tree_getxattr(const struct node *n, const char *name, char *buf, size_t size);
int tree_listxattr(const struct node *n, char *buf, size_t size);

#endif
