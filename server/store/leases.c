/*
 * leases.c - the registry of concurrency leases held (see leases.h).
 * LOCKING: ls->mu guards the list and n; leases_renew copies the pairs
 * under the lock and talks to Redis without it.
 */
#include "compat.h"
#include "admission.h"
#include "errs.h"
#include "leases.h"
#include "xmalloc.h"

#include <pthread.h>

struct lease {
    struct lease *prev, *next;
    char key_id[40];
    char member[48];
};

struct leases {
    pthread_mutex_t mu; /* guards: head, n */
    struct lease *head;
    long n;
};

struct leases *leases_new(void)
{
    struct leases *ls = xcalloc(1, sizeof(*ls));
    pthread_mutex_init(&ls->mu, NULL);
    return ls;
}

void leases_free(struct leases *ls)
{
    if (!ls)
        return;
    while (ls->head) {
        struct lease *l = ls->head;
        ls->head = l->next;
        free(l);
    }
    pthread_mutex_destroy(&ls->mu);
    free(ls);
}

struct lease *leases_add(struct leases *ls, const char *key_id, const char *member)
{
    struct lease *l = xcalloc(1, sizeof(*l));
    snprintf(l->key_id, sizeof(l->key_id), "%s", key_id);
    snprintf(l->member, sizeof(l->member), "%s", member);
    pthread_mutex_lock(&ls->mu);
    l->next = ls->head;
    if (ls->head)
        ls->head->prev = l;
    ls->head = l;
    ls->n++;
    pthread_mutex_unlock(&ls->mu);
    return l;
}

void leases_remove(struct leases *ls, struct lease *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&ls->mu);
    if (l->prev)
        l->prev->next = l->next;
    else
        ls->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    ls->n--;
    pthread_mutex_unlock(&ls->mu);
    free(l);
}

long leases_count(struct leases *ls)
{
    pthread_mutex_lock(&ls->mu);
    long n = ls->n;
    pthread_mutex_unlock(&ls->mu);
    return n;
}

int leases_renew(struct leases *ls, struct rds_conn *c, long long end_ms)
{
    pthread_mutex_lock(&ls->mu);
    long n = ls->n, i = 0;
    char(*ids)[40] = xcalloc((size_t)n + 1, sizeof(*ids));
    char(*mem)[48] = xcalloc((size_t)n + 1, sizeof(*mem));
    for (struct lease *l = ls->head; l && i < n; l = l->next, i++) {
        memcpy(ids[i], l->key_id, sizeof(ids[i]));
        memcpy(mem[i], l->member, sizeof(mem[i]));
    }
    pthread_mutex_unlock(&ls->mu);
    const char **pi = xcalloc((size_t)i + 1, sizeof(*pi)),
               **pm = xcalloc((size_t)i + 1, sizeof(*pm));
    for (long k = 0; k < i; k++)
        pi[k] = ids[k], pm[k] = mem[k];
    int rc = i ? admission_renew(c, (int)i, pi, pm, end_ms) : 0;
    free(pi);
    free(pm);
    free(ids);
    free(mem);
    return rc;
}
