/*
 * PAM password check with Linux-PAM (blocking; worker threads only, see
 * external.h). Each check is its own pam_start .. pam_end, so nothing is
 * shared between threads.
 */
#include "auth/external.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

/* Every prompt gets the password (a module may ask for it in its own
 * words); messages to show are dropped. */
static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *arg)
{
	const char *password = arg;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		int style = msg[i]->msg_style;
		if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
			r[i].resp = strdup(password);
			if (!r[i].resp)
				goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++)
		if (r[i].resp) {
			memset(r[i].resp, 0, strlen(r[i].resp));
			free(r[i].resp);
		}
	free(r);
	return PAM_BUF_ERR;
}

enum lp_ext_result lp_pam_check(const char *service, const char *user, const char *password,
				const char *rhost, char *detail, size_t cap)
{
	struct pam_conv pc = { conv, (void *)password };
	pam_handle_t *h = NULL;
	enum lp_ext_result r = LP_EXT_ERROR;

	detail[0] = '\0';
	if (!password[0]) {
		snprintf(detail, cap, "empty password");
		return LP_EXT_DENIED;
	}
	int rc = pam_start(service, user, &pc, &h);
	if (rc != PAM_SUCCESS) {
		snprintf(detail, cap, "pam_start failed: %s", pam_strerror(h, rc));
		return LP_EXT_ERROR;
	}
	if (rhost && (rc = pam_set_item(h, PAM_RHOST, rhost)) != PAM_SUCCESS) {
		snprintf(detail, cap, "pam_set_item(PAM_RHOST) failed: %s", pam_strerror(h, rc));
		goto done;
	}
	rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	switch (rc) {
	case PAM_SUCCESS:
		r = LP_EXT_OK;
		break;
	case PAM_AUTHINFO_UNAVAIL:
		r = LP_EXT_UNAVAILABLE;
		break;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_MAXTRIES:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_PERM_DENIED:
	case PAM_CRED_INSUFFICIENT:
		r = LP_EXT_DENIED;
		break;
	default:
		r = LP_EXT_ERROR;
		break;
	}
	if (r != LP_EXT_OK)
		snprintf(detail, cap, "PAM service \"%s\": %s", service, pam_strerror(h, rc));
done:
	pam_end(h, rc);
	return r;
}
