/*
 * auth_file (userlist.txt): lines of "user" "secret", where secret is a plain
 * password, an md5 secret or a SCRAM verifier. Double quotes inside a field
 * are written twice. Lines starting with ';' or '#' and blank lines are
 * comments. A file with any malformed line is refused whole, every such line
 * reported as file:line.
 */
#ifndef LP_AUTH_USERLIST_H
#define LP_AUTH_USERLIST_H

#include <stddef.h>

#include "core/diag.h"

struct lp_userlist_entry {
	char *name;
	char *secret;
	int line;
};

struct lp_userlist {
	struct lp_userlist_entry *v;
	size_t n;
};

/* Returns 0 when read, out replaced, diag holding only warnings (a user
 * listed twice); -1 when the file cannot be read or has a malformed line,
 * every problem in diag and out untouched. */
int lp_userlist_load(const char *path, struct lp_userlist *out, struct lp_diag *diag);
/* Same from memory, for tests and fuzzing. */
int lp_userlist_parse(const char *text, size_t len, const char *file, struct lp_userlist *out,
		      struct lp_diag *diag);
const struct lp_userlist_entry *lp_userlist_find(const struct lp_userlist *ul, const char *name);
void lp_userlist_free(struct lp_userlist *ul);

#endif
