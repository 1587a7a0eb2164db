/*
 * Intrusive doubly linked lists with an O(1) count.
 *
 * Every client and server state owns exactly one list (see
 * docs/architecture.md), so state counts are list lengths.
 */
#ifndef LP_CORE_LIST_H
#define LP_CORE_LIST_H

#include <stddef.h>

struct lp_list_node {
	struct lp_list_node *prev, *next;
};

struct lp_list {
	struct lp_list_node head;
	int count;
};

#define lp_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static inline void lp_list_init(struct lp_list *l)
{
	l->head.prev = l->head.next = &l->head;
	l->count = 0;
}

static inline void lp_list_node_init(struct lp_list_node *n)
{
	n->prev = n->next = n;
}

static inline int lp_list_empty(const struct lp_list *l)
{
	return l->count == 0;
}

static inline void lp_list_append(struct lp_list *l, struct lp_list_node *n)
{
	n->prev = l->head.prev;
	n->next = &l->head;
	l->head.prev->next = n;
	l->head.prev = n;
	l->count++;
}

static inline void lp_list_prepend(struct lp_list *l, struct lp_list_node *n)
{
	n->next = l->head.next;
	n->prev = &l->head;
	l->head.next->prev = n;
	l->head.next = n;
	l->count++;
}

static inline void lp_list_remove(struct lp_list *l, struct lp_list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
	l->count--;
}

static inline struct lp_list_node *lp_list_first(const struct lp_list *l)
{
	return l->count ? l->head.next : NULL;
}

static inline struct lp_list_node *lp_list_last(const struct lp_list *l)
{
	return l->count ? l->head.prev : NULL;
}

/* Iterate safely against removal of the current node. */
#define lp_list_foreach_safe(l, n, tmp) \
	for ((n) = (l)->head.next, (tmp) = (n)->next; (n) != &(l)->head; \
	     (n) = (tmp), (tmp) = (n)->next)

#endif
